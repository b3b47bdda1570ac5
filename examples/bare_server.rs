//! The benchmark's yardstick: a bare hyper server that answers every request with the same
//! bytes (a `/api/whats-next` body captured from calendarbot), on the same runtime shape as
//! calendarbot (2 worker threads, HTTP/1.1 keep-alive). It has no routing, no cache, no
//! snapshot: whatever calendarbot does beyond this is the cost `ci/bench-layer.sh` measures.
//!
//! Usage: `bare_server BODY_FILE PORT_FILE` — binds 127.0.0.1:0, writes the port to PORT_FILE,
//! serves until killed.

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(body_file), Some(port_file)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: bare_server BODY_FILE PORT_FILE");
    };
    let body = Bytes::from(std::fs::read(&body_file)?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        std::fs::write(&port_file, listener.local_addr()?.port().to_string())?;
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            let body = body.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |_req: Request<hyper::body::Incoming>| {
                    let body = body.clone();
                    async move {
                        let mut r = Response::new(Full::new(body));
                        r.headers_mut().insert(
                            hyper::header::CONTENT_TYPE,
                            hyper::header::HeaderValue::from_static("application/json"),
                        );
                        Ok::<_, Infallible>(r)
                    }
                });
                let _ = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    })
}
