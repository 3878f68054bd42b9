//! Runs an example's binary as people run it: its environment set, its
//! address read from its one `listening on ADDR` line, killed when dropped.
#![allow(dead_code)] // each user takes what it needs

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// How long an example may take to start.
const START: Duration = Duration::from_secs(5);

/// The binary of example `name`, which `cargo test` builds beside the tests
/// (`cargo test --test NAME` alone does not: then build it first, with the
/// same features). Refused if older than its source.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let binary = dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified());
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    // The example's file, and the shared modules it declares (`mod serve;`).
    let main = examples.join(format!("{name}.rs"));
    let text = std::fs::read_to_string(&main).unwrap();
    // Each module's files: `mod.rs` and those it declares beside it.
    let modules = text
        .lines()
        .filter_map(|line| {
            let module = line.strip_prefix("mod ")?.strip_suffix(';')?;
            std::fs::read_dir(examples.join(module)).ok()
        })
        .flatten()
        .map(|entry| entry.unwrap().path());
    let newest = std::iter::once(main.clone())
        .chain(modules)
        .map(|source| modified(&source).unwrap())
        .max()
        .unwrap();
    let built = modified(&binary).unwrap_or_else(|_| panic!("the example {name} is built"));
    assert!(
        built >= newest,
        "{} is older than examples/{name}.rs or a module it uses: run `cargo build --all-features --example {name}`",
        binary.display()
    );
    binary
}

/// A running example; killed when dropped.
pub struct Example {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Example {
    /// Sends the process `signal` (`TERM`, `INT`), as `kill -SIGNAL` does.
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -{signal} {}", self.child.id());
    }

    /// The process's exit status, waited for at most `bound`.
    pub async fn exit_within(&mut self, bound: Duration) -> ExitStatus {
        let deadline = tokio::time::Instant::now() + bound;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the example exits within {bound:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts example `name` with `env` (its stderr shown when `EXAMPLE_STDERR`
/// is set) and waits for its `listening on ADDR` line.
pub async fn start(name: &str, env: &[(&str, &str)]) -> Example {
    let stderr = if std::env::var_os("EXAMPLE_STDERR").is_some() {
        Stdio::inherit()
    } else {
        Stdio::null()
    };
    start_with_stderr(name, env, stderr).await
}

/// [`start`], its log (stderr) written to the file `log`.
pub async fn start_logging_to(name: &str, env: &[(&str, &str)], log: &Path) -> Example {
    let file = std::fs::File::create(log).unwrap();
    start_with_stderr(name, env, Stdio::from(file)).await
}

async fn start_with_stderr(name: &str, env: &[(&str, &str)], stderr: Stdio) -> Example {
    let mut child = Command::new(binary(name))
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("the example {name} runs: {e}"));
    let stdout = child.stdout.take().unwrap();
    let stdout = tokio::process::ChildStdout::from_std(stdout).unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(START, lines.next_line())
        .await
        .expect("the example starts in time")
        .unwrap()
        .expect("a line");
    let addr = line
        .strip_prefix("listening on ")
        .expect("`listening on ADDR`")
        .parse()
        .unwrap();
    Example { child, addr }
}

/// Sends `raw` on a fresh connection to `addr` and reads the whole answer,
/// until the server closes the connection (at most 5 s).
pub async fn answer_to(addr: SocketAddr, raw: &[u8]) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(raw).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .expect("an answer in time")
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}
