//! nginx in front of a tiny upstream, asking `keyward serve` through
//! `auth_request`: the README's nginx configuration, run for real.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::serve::Serve;
use crate::common::*;

struct Nginx {
    child: Child,
    port: u16,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `location` blocks of the README's "nginx" section, with the ports
/// filled in.
fn config(dir: &Path, port: u16, upstream: u16, keyward: u16) -> String {
    let d = dir.display();
    format!(
        r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/tmp;
    proxy_temp_path {d}/tmp;
    fastcgi_temp_path {d}/tmp;
    uwsgi_temp_path {d}/tmp;
    scgi_temp_path {d}/tmp;

    # The tiny upstream: says which key the proxy vouched for.
    server {{
        listen 127.0.0.1:{upstream};
        location / {{
            return 200 "upstream: key=$http_x_keyward_key_id name=$http_x_keyward_key_name auth=$http_authorization\n";
        }}
    }}

    server {{
        listen 127.0.0.1:{port};

        location /api/ {{
            auth_request /_keyward;
            auth_request_set $keyward_key_id $upstream_http_x_keyward_key_id;
            auth_request_set $keyward_key_name $upstream_http_x_keyward_key_name;
            proxy_set_header X-Keyward-Key-Id $keyward_key_id;
            proxy_set_header X-Keyward-Key-Name $keyward_key_name;
            proxy_set_header Authorization "";
            proxy_pass http://127.0.0.1:{upstream};
        }}

        location /admin/ {{
            auth_request /_keyward_admin;
            auth_request_set $keyward_key_id $upstream_http_x_keyward_key_id;
            proxy_set_header X-Keyward-Key-Id $keyward_key_id;
            proxy_set_header Authorization "";
            proxy_pass http://127.0.0.1:{upstream};
        }}

        location = /_keyward {{
            internal;
            proxy_pass http://127.0.0.1:{keyward}/v1/authz;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }}

        location = /_keyward_admin {{
            internal;
            proxy_pass http://127.0.0.1:{keyward}/v1/authz?scope=admin;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }}
    }}
}}
"#
    )
}

fn start_nginx(dir: &Path, keyward: u16) -> Option<Nginx> {
    let Some(bin) = program("nginx") else {
        skip(
            "the nginx auth_request test",
            "nginx is not installed; apt install nginx to run it",
        );
        return None;
    };
    std::fs::create_dir_all(dir.join("tmp")).expect("tmp");
    let port = free_port();
    let upstream = free_port();
    std::fs::write(dir.join("nginx.conf"), config(dir, port, upstream, keyward)).expect("conf");
    let child = Command::new(bin)
        .args(["-e", &format!("{}/error.log", dir.display())])
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start nginx");
    let nginx = Nginx { child, port };
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "nginx did not start: {}",
            std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(nginx)
}

/// GET through nginx: (status, body).
fn get(port: u16, path: &str, secret: Option<&str>) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let auth = secret
        .map(|k| format!("Authorization: Bearer {k}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{auth}\r\n"
    )
    .expect("send");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let reply = crate::common::serve::parse(&out).expect("a response");
    (reply.status, reply.text())
}

#[test]
fn nginx_auth_request_lets_only_live_keys_through() {
    let v = TestVault::new();
    let (main, main_secret) = v.create_json(&["--name", "main"]);
    let (admin, admin_secret) = v.create_json(&["--name", "ops", "--scope", "admin"]);
    let gone = v.create(&["--name", "gone"]);
    v.kw(["revoke", "gone", "--yes"]).assert().success();
    let serve = Serve::start(&v, &[], &[]);
    let Some(nginx) = start_nginx(&v.dir().join("nginx"), serve.port) else {
        return;
    };
    let port = nginx.port;

    let (status, body) = get(port, "/api/orders", Some(&main_secret));
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(&format!("key={}", main["id"].as_str().expect("id"))),
        "{body}"
    );
    assert!(body.contains("name=main"), "{body}");
    assert!(
        body.contains("auth=\n") || body.ends_with("auth=\n"),
        "the secret goes no further: {body}"
    );
    let (status, body) = get(port, "/admin/users", Some(&admin_secret));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(admin["id"].as_str().expect("id")), "{body}");

    for (path, secret, expected) in [
        ("/api/orders", None, 401),
        ("/api/orders", Some(foreign_secret()), 401),
        ("/api/orders", Some(gone.clone()), 401),
        ("/admin/users", Some(main_secret.clone()), 403),
    ] {
        let (status, body) = get(port, path, secret.as_deref());
        assert_eq!(status, expected, "{path} {secret:?}: {body}");
        assert!(
            !body.contains("upstream:"),
            "the upstream was reached: {body}"
        );
    }

    // Revoked while nginx runs: the next request is refused.
    v.kw(["revoke", "ops", "--yes"]).assert().success();
    assert_eq!(get(port, "/admin/users", Some(&admin_secret)).0, 401);

    // keyward stopped: the client gets an error, never the upstream.
    let (code, _) = serve.stop();
    assert_eq!(code, Some(0));
    let (status, body) = get(port, "/api/orders", Some(&main_secret));
    assert!(status >= 500, "{status}: {body}");
    assert!(
        !body.contains("upstream:"),
        "the upstream was reached: {body}"
    );
}
