//! Code shared by the examples and their tests: the operators live here so that the example
//! binaries stay thin and the tests can run them against the in-process apiserver.

pub mod configmapgen;
