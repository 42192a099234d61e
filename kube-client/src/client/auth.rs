//! Authentication: bearer tokens, token files, basic auth, exec plugins.
