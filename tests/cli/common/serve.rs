//! A running `keyward serve` on a free port, and a plain HTTP/1.1 client
//! that can also send what no well-behaved client would.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::TestVault;

pub struct Serve {
    child: Option<Child>,
    pub port: u16,
    /// Everything serve wrote on stderr.
    pub log: PathBuf,
}

/// A response: status, headers (names lowercased), body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Serve {
    /// Starts `keyward serve --listen 127.0.0.1:0 ARGS…` on the vault and
    /// waits for it to say where it listens.
    pub fn start(v: &TestVault, args: &[&str], envs: &[(&str, &str)]) -> Serve {
        let mut cmd = v.std(["serve", "--listen", "127.0.0.1:0"]);
        cmd.args(args).envs(envs.iter().copied());
        Serve::spawn(cmd, &v.dir().join("serve.log"))
    }

    /// Runs `cmd` (a `keyward serve` of the caller's making), logging to a
    /// new file next to `log`.
    pub fn spawn(mut cmd: std::process::Command, log: &std::path::Path) -> Serve {
        let log = unique(log.to_path_buf());
        let file = std::fs::File::create(&log).expect("log file");
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(file);
        let child = cmd.spawn().expect("start serve");
        let mut serve = Serve {
            child: Some(child),
            port: 0,
            log,
        };
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            let text = serve.log_text();
            if let Some(at) = text.find("address=") {
                let rest = &text[at + "address=".len()..];
                let addr: String = rest
                    .chars()
                    .take_while(|c| !c.is_whitespace() && *c != '"' && *c != ',')
                    .collect();
                serve.port = addr
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .expect("a port");
                return serve;
            }
            if let Some(status) = serve
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("serve exited with {status}: {text}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("serve did not start: {}", serve.log_text());
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// Sends SIGTERM and waits for the exit code (at most 30 s).
    pub fn stop(mut self) -> (Option<i32>, String) {
        let mut child = self.child.take().expect("running");
        signal(child.id(), "TERM");
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return (status.code(), self.log_text());
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "serve did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends raw bytes on a new connection and reads the response until
    /// the server closes it.
    pub fn raw(&self, request: &[u8]) -> Reply {
        let mut stream = self.connect();
        stream.write_all(request).expect("send");
        let mut out = Vec::new();
        let _ = stream.read_to_end(&mut out);
        parse(&out)
            .unwrap_or_else(|| panic!("no response to {:?}", String::from_utf8_lossy(request)))
    }

    pub fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        stream
    }

    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.request("GET", path, headers, None)
    }

    pub fn post(&self, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        self.request("POST", path, headers, Some(body))
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Reply {
        let mut req =
            format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
        for (name, value) in headers {
            req.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(body) = body {
            req.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        if let Some(body) = body {
            req.push_str(body);
        }
        self.raw(req.as_bytes())
    }

    /// `/v1/authz` with a bearer secret.
    pub fn authz(&self, secret: &str, query: &str) -> Reply {
        let auth = format!("Bearer {secret}");
        self.get(&format!("/v1/authz{query}"), &[("Authorization", &auth)])
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn unique(path: PathBuf) -> PathBuf {
    let mut n = 0;
    loop {
        let candidate = path.with_extension(format!("{n}.log"));
        if !candidate.exists() {
            return candidate;
        }
        n += 1;
    }
}

pub fn signal(pid: u32, name: &str) {
    let ok = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill -{name} {pid}");
}

/// Parses one HTTP/1.1 response (Content-Length bodies, or to the end).
pub fn parse(bytes: &[u8]) -> Option<Reply> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&bytes[..end]);
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let rest = &bytes[end + 4..];
    let len = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(rest.len());
    Some(Reply {
        status,
        headers,
        body: rest[..len.min(rest.len())].to_vec(),
    })
}

/// Reads one response from a kept-alive connection.
pub fn read_reply(stream: &mut TcpStream) -> Option<Reply> {
    let mut reader = BufReader::new(stream);
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        if reader.read_until(b'\n', &mut line).ok()? == 0 {
            return None;
        }
        head.extend_from_slice(&line);
        if line == b"\r\n" {
            break;
        }
    }
    let mut reply = parse(&head)?;
    let len: usize = reply
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    reply.body = body;
    Some(reply)
}
