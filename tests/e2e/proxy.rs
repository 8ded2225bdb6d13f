//! A TCP proxy between rsp-images and the real `docker-registry`, so the test can make the
//! registry answer 500s or refuse connections without touching its storage. Changing the
//! mode closes connections already open, so pooled keep-alive connections see it too.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forward to the registry.
    Pass,
    /// Answer every request with `500 Internal Server Error`.
    Fail500,
    /// Close every connection at once, as an unreachable host does.
    Refuse,
}

pub struct Proxy {
    addr: SocketAddr,
    mode: watch::Sender<Mode>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let (mode, rx) = watch::channel(Mode::Pass);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(handle(stream, upstream, rx.clone()));
            }
        });
        Proxy { addr, mode, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(mut stream: TcpStream, upstream: SocketAddr, mut mode: watch::Receiver<Mode>) {
    let current = *mode.borrow_and_update();
    match current {
        Mode::Refuse => {}
        Mode::Fail500 => {
            // Read the request head, answer 500 and close.
            let mut buf = [0u8; 4096];
            if matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {
                let answer = "HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain\r\n\
                              content-length: 6\r\nconnection: close\r\n\r\nbroken";
                let _ = stream.write_all(answer.as_bytes()).await;
            }
        }
        Mode::Pass => {
            let Ok(mut up) = TcpStream::connect(upstream).await else {
                return;
            };
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut stream, &mut up) => {}
                _ = mode.changed() => {}
            }
        }
    }
}

/// The process id listening on `port` (the `docker-registry` this test started).
pub fn listener_pid(port: u16) -> u32 {
    let out = std::process::Command::new("lsof")
        .args(["-t", "-a", &format!("-iTCP:{port}"), "-sTCP:LISTEN"])
        .output()
        .expect("run lsof");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no process listens on port {port}"))
}

/// Sends `signal` (e.g. `STOP`, `CONT`, `KILL`, `TERM`) to one process by id.
pub fn signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid} failed");
}
