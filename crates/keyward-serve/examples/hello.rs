//! The floor under serve's pace: hyper and tokio set up exactly as serve
//! sets them up (multi-thread runtime, HTTP/1 with the same timer, limits
//! and keep-alive, nodelay), answering every request `200` with an empty
//! body and doing nothing else. `bench/throughput.sh` measures it beside
//! nginx and serve, so the gap between this and serve is keyward's and the
//! gap between this and nginx is the HTTP stack's.
//!
//!   cargo run --release -p keyward-serve --example hello -- 127.0.0.1:8080

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};

async fn answer(_: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::new())))
}

fn main() -> std::io::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&address).await?;
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .max_header_size(16 * 1024)
            .header_read_timeout(Duration::from_secs(60))
            .half_close(true)
            .keep_alive(true);
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            let conn = builder.serve_connection(TokioIo::new(stream), service_fn(answer));
            tokio::spawn(async move {
                let _ = conn.await;
            });
        }
    })
}
