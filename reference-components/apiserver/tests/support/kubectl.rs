//! The real clients of the acceptance tests: kubectl 1.35 and the Python `kubernetes` client,
//! as `scripts/install-test-deps` installs them (`--print-env` exports `KUBE_TEST_KUBECTL` and
//! `KUBE_TEST_PYTHON`; without them, its default tools directory is used). A missing tool fails
//! the test and names the script: these tests never skip.
//!
//! Every command runs with a deadline (killed past it), a private `HOME` and cache directory,
//! a kubeconfig for the test's server, and no proxy, so that nothing leaves loopback.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::{Child, Command};

/// How long one kubectl or Python invocation may take.
pub const TIMEOUT: Duration = Duration::from_secs(60);

fn tools_dir() -> PathBuf {
    match std::env::var_os("KUBE_TOOLS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/kube-sdk-tools"),
    }
}

fn locate(env: &str, default: PathBuf, what: &str) -> PathBuf {
    let path = std::env::var_os(env).map(PathBuf::from).unwrap_or(default);
    assert!(
        path.is_file(),
        "{what} not found at {} (${env}): run `scripts/install-test-deps` (scripts/test runs it and exports {env})",
        path.display()
    );
    path
}

/// The kubectl 1.35 binary.
pub fn kubectl_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let bin = locate(
            "KUBE_TEST_KUBECTL",
            tools_dir().join("bin/kubectl"),
            "kubectl 1.35",
        );
        let out = std::process::Command::new(&bin)
            .args(["version", "--client", "-o", "json"])
            .output()
            .expect("run kubectl version");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("\"minor\": \"35\""),
            "{} is not kubectl 1.35 ({text}): run `scripts/install-test-deps`",
            bin.display()
        );
        bin
    })
}

/// The Python interpreter of the virtualenv that has the `kubernetes` client.
pub fn python_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let bin = locate(
            "KUBE_TEST_PYTHON",
            tools_dir().join("venv/bin/python"),
            "Python with the kubernetes client",
        );
        let ok = std::process::Command::new(&bin)
            .args(["-c", "import kubernetes"])
            .status()
            .expect("run python");
        assert!(
            ok.success(),
            "{} cannot import the kubernetes client: run `scripts/install-test-deps`",
            bin.display()
        );
        bin
    })
}

/// What a command did.
#[derive(Debug)]
pub struct Output {
    /// Exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Output {
    /// Whether it exited 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit code {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Run `cmd` to completion within [`TIMEOUT`], feeding it `stdin`.
pub async fn run(mut cmd: Command, stdin: Option<&str>, what: &str) -> Output {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .kill_on_drop(true);
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        pipe.write_all(input.as_bytes()).await.expect("write stdin");
        drop(pipe);
    }
    match tokio::time::timeout(TIMEOUT, child.wait_with_output()).await {
        Ok(Ok(out)) => Output {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        },
        Ok(Err(e)) => panic!("wait for {what}: {e}"),
        Err(_) => panic!("{what} did not finish within {TIMEOUT:?} (killed)"),
    }
}

/// An environment for real clients talking to one server: a kubeconfig, `HOME` and caches in a
/// temporary directory.
#[derive(Debug)]
pub struct Clients {
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

impl Clients {
    /// Clients of the server at `url` (a loopback `http://` URL).
    pub fn new(url: &str) -> Self {
        assert!(
            url.starts_with("http://127."),
            "tests talk to loopback servers only: {url}"
        );
        let dir = tempfile::tempdir().expect("temporary directory");
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(&kubeconfig, reference_apiserver::testing::kubeconfig_yaml(url))
            .expect("write kubeconfig");
        Self { dir, kubeconfig }
    }

    /// The temporary directory (files written by the test go here).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The kubeconfig's path.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// Write `contents` to `name` in the temporary directory; its path.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).expect("write file");
        path
    }

    /// Write an executable shell script; its path.
    pub fn script(&self, name: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.write(name, &format!("#!/bin/sh\nset -e\n{body}\n"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod script");
        path
    }

    fn env(&self, cmd: &mut Command) {
        cmd.env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self.dir.path())
            .env("KUBECACHEDIR", self.dir.path().join("cache"))
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost");
        for var in [
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "http_proxy",
            "https_proxy",
            "all_proxy",
        ] {
            cmd.env_remove(var);
        }
    }

    /// A kubectl command with `args`.
    pub fn kubectl_command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(kubectl_bin());
        cmd.args(args);
        self.env(&mut cmd);
        cmd
    }

    /// Run kubectl.
    pub async fn kubectl(&self, args: &[&str]) -> Output {
        run(
            self.kubectl_command(args),
            None,
            &format!("kubectl {}", args.join(" ")),
        )
        .await
    }

    /// Run kubectl with `stdin`.
    pub async fn kubectl_stdin(&self, args: &[&str], stdin: &str) -> Output {
        run(
            self.kubectl_command(args),
            Some(stdin),
            &format!("kubectl {}", args.join(" ")),
        )
        .await
    }

    /// Run kubectl, which must succeed; its standard output.
    pub async fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args).await;
        assert!(out.success(), "kubectl {} failed: {out}", args.join(" "));
        out.stdout
    }

    /// Run kubectl, which must fail; its standard error.
    pub async fn fails(&self, args: &[&str]) -> String {
        let out = self.kubectl(args).await;
        assert!(
            !out.success(),
            "kubectl {} should have failed: {out}",
            args.join(" ")
        );
        out.stderr
    }

    /// `kubectl apply -f -` of `manifest`, which must succeed; its standard output.
    pub async fn apply(&self, manifest: &str) -> String {
        let out = self.kubectl_stdin(&["apply", "-f", "-"], manifest).await;
        assert!(
            out.success(),
            "kubectl apply failed: {out}\n--- manifest ---\n{manifest}"
        );
        out.stdout
    }

    /// Start a long-running kubectl (`get -w`) with its output piped; killed when dropped.
    pub fn spawn_kubectl(&self, args: &[&str]) -> Child {
        let mut cmd = self.kubectl_command(args);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd.spawn().expect("spawn kubectl")
    }

    /// Run the Python script `script` (with `args`) against the server.
    pub async fn python(&self, script: &Path, args: &[&str]) -> Output {
        let mut cmd = Command::new(python_bin());
        cmd.arg(script).args(args).env("PYTHONUNBUFFERED", "1");
        self.env(&mut cmd);
        run(cmd, None, &format!("python {}", script.display())).await
    }
}
