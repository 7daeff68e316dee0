//! `wxtoken serve`: the central control server. Business servers in any
//! language ask it for the token over HTTP (docs/serve.md); it holds one
//! refresher per app through the library, on any store.
//!
//! Layout: config (serve.toml), auth (client keys), routes (the API),
//! metrics (Prometheus text); this file listens, accepts and reloads.

mod auth;
mod config;
mod conns;
mod metrics;
mod routes;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::Semaphore;
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;

use config::ServeConfig;
use conns::Conns;
use routes::{Shared, State};
use wxtoken::LogLevel::{Info, Warn};

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// The configuration file (docs/serve.md)
    #[arg(long, short, value_name = "PATH")]
    pub config: PathBuf,
    /// Once listening, write the address clients use (http://HOST:PORT,
    /// https://..., or unix:PATH) to this file
    #[arg(long, value_name = "PATH")]
    pub addr_file: Option<PathBuf>,
    /// Check the configuration and exit
    #[arg(long)]
    pub check: bool,
}

/// A failure before serving: the message and the exit code.
pub struct Fatal(pub u8, pub String);

pub fn run(args: &ServeArgs) -> Result<(), Fatal> {
    let cfg = config::load(&args.config).map_err(|m| Fatal(2, m))?;
    configure_apps(&cfg)?;
    if args.check {
        let msg = format!(
            "{} is valid ({} apps, {} clients)",
            args.config.display(),
            cfg.apps.len(),
            cfg.clients.len()
        );
        let rec = wxtoken::LogRecord::new(wxtoken::LogLevel::Info, "serve_config_valid", "", msg)
            .with("apps", cfg.apps.len())
            .with("clients", cfg.clients.len());
        crate::tell("wxtoken serve", rec);
        return Ok(());
    }
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = cfg.workers {
        runtime.worker_threads(n);
    }
    let runtime = runtime
        .enable_all()
        .thread_name("wxtoken-serve")
        .build()
        .map_err(|e| Fatal(1, format!("cannot start the runtime: {e}")))?;
    runtime.block_on(serve(args, cfg))
}

/// Registers every app with the library, all or none. Re-registering an
/// unchanged app is a no-op, so a reload keeps its token; a changed one
/// keeps it through the store.
fn configure_apps(cfg: &ServeConfig) -> Result<(), Fatal> {
    wxtoken::configure_all(cfg.apps.clone())
        .map(drop)
        .map_err(|e| Fatal(2, e.errmsg().to_string()))
}

enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
}

async fn serve(args: &ServeArgs, cfg: ServeConfig) -> Result<(), Fatal> {
    // The acceptor is swapped on reload: a renewed certificate needs no restart.
    let tls = match &cfg.tls {
        Some(t) => Some(ArcSwap::from_pointee(
            tls_acceptor(&t.cert_file, &t.key_file).map_err(|m| Fatal(2, m))?,
        )),
        None => None,
    };
    let (listener, shown) = bind(&cfg, tls.is_some()).await?;
    let listen = cfg.listen.clone();
    let max_connections = fit_to_fd_limit(cfg.limits.max_connections);
    let shared = Arc::new(Shared::new(State::from_config(cfg)));
    // Handlers first: a SIGHUP sent as soon as the address is known must
    // reload, not kill (its default action).
    let mut hup = signal(SignalKind::hangup()).map_err(|e| Fatal(1, e.to_string()))?;
    let mut term = signal(SignalKind::terminate()).map_err(|e| Fatal(1, e.to_string()))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| Fatal(1, e.to_string()))?;
    if let Some(path) = &args.addr_file {
        crate::write_atomically(path, &shown)
            .map_err(|e| Fatal(1, format!("cannot write {}: {e}", path.display())))?;
    }
    crate::say(Info, "serve_listening", format!("listening on {shown}"));
    let permits = Arc::new(Semaphore::new(max_connections));
    let conns = Arc::new(Conns::new());
    // When every slot is taken, this many of the longest-idle connections
    // are asked to close, so that a new client is not starved by idle ones.
    let batch = (max_connections / 16).max(1);
    loop {
        // The permit is taken before accepting: past max_connections, new
        // connections wait in the backlog while idle ones are closed.
        let permit = match permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                conns.close_idle(batch);
                // Again after a while if no slot came free (every
                // connection was busy).
                tokio::select! {
                    p = permits.clone().acquire_owned() => p.expect("never closed"),
                    _ = tokio::time::sleep(Duration::from_millis(200)) => continue,
                    _ = hup.recv() => { reload(&args.config, &shared, &listen, tls.as_ref()); continue; }
                    _ = term.recv() => break,
                    _ = int.recv() => break,
                }
            }
        };
        let accepted = tokio::select! {
            a = accept(&listener) => a,
            _ = hup.recv() => { reload(&args.config, &shared, &listen, tls.as_ref()); continue; }
            _ = term.recv() => break,
            _ = int.recv() => break,
        };
        let Some(stream) = accepted else { continue };
        let shared = shared.clone();
        let conns = conns.clone();
        let tls = tls.as_ref().map(|slot| TlsAcceptor::clone(&slot.load()));
        let timeout = Duration::from_millis(shared.state.load().limits.header_timeout_ms);
        let me = conns.register();
        tokio::spawn(async move {
            serve_stream(stream, tls, shared, &conns, &me, timeout).await;
            // Out of the registry before the slot is free: a full server
            // must not pick this one to close.
            drop(me);
            drop(permit);
        });
    }
    // Requests in flight are answered (for up to 5 s); idle connections close.
    listener_close(&listener);
    drop(listener);
    conns.close_all();
    let all = u32::try_from(max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(Duration::from_secs(5), permits.acquire_many(all)).await;
    crate::say(Info, "serve_stopped", "stopped");
    Ok(())
}

/// Stops listening: a unix socket's file goes.
fn listener_close(listener: &Listener) {
    if let Listener::Unix(_, path) = listener {
        let _ = std::fs::remove_file(path);
    }
}

enum Stream {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

async fn accept(listener: &Listener) -> Option<Stream> {
    let accepted = match listener {
        Listener::Tcp(l) => l.accept().await.map(|(s, _)| {
            let _ = s.set_nodelay(true);
            Stream::Tcp(s)
        }),
        Listener::Unix(l, _) => l.accept().await.map(|(s, _)| Stream::Unix(s)),
    };
    match accepted {
        Ok(s) => Some(s),
        Err(e) => {
            // EMFILE and the like: back off instead of spinning.
            crate::say(Warn, "serve_accept_failed", format!("accept failed: {e}"));
            tokio::time::sleep(Duration::from_millis(100)).await;
            None
        }
    }
}

async fn serve_stream(
    stream: Stream,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    conns: &Arc<Conns>,
    me: &conns::Registered,
    timeout: Duration,
) {
    match (stream, tls) {
        (Stream::Tcp(s), Some(acceptor)) => {
            // The handshake is bounded like a request's headers, and idle
            // until done.
            let handshake = tokio::time::timeout(timeout, acceptor.accept(s));
            let s = tokio::select! {
                hs = handshake => match hs { Ok(Ok(s)) => s, _ => return },
                _ = me.conn.close.notified() => return,
            };
            connection(s, shared, conns, me, timeout).await;
        }
        (Stream::Tcp(s), None) => connection(s, shared, conns, me, timeout).await,
        (Stream::Unix(s), _) => connection(s, shared, conns, me, timeout).await,
    }
}

/// Serves one connection. hyper's header timeout covers both slow headers
/// and a keep-alive connection idle before its next request; asked to close
/// (the server is full), it finishes the request in flight and closes.
async fn connection<S>(
    io: S,
    shared: Arc<Shared>,
    conns: &Arc<Conns>,
    me: &conns::Registered,
    header_timeout: Duration,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (conns, conn) = (conns.clone(), me.conn.clone());
    let service = service_fn(move |req| {
        let busy = conns.busy(&conn);
        let shared = shared.clone();
        async move {
            let resp = routes::handle(shared, req).await;
            drop(busy);
            resp
        }
    });
    let served = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true)
        .max_buf_size(16 * 1024)
        .writev(false)
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(served);
    tokio::select! {
        _ = served.as_mut() => {}
        _ = me.conn.close.notified() => {
            // Idle (hyper would wait for a first request that may never
            // come): dropped, which closes it. Busy: answered, then closed.
            if me.conn.is_busy() {
                served.as_mut().graceful_shutdown();
                let _ = served.await;
            }
        }
    }
}

async fn bind(cfg: &ServeConfig, tls: bool) -> Result<(Listener, String), Fatal> {
    if let Some(path) = cfg.listen.strip_prefix("unix:") {
        let path = PathBuf::from(path);
        if !path.is_absolute() {
            return Err(Fatal(
                2,
                "listen = \"unix:PATH\" needs an absolute path".into(),
            ));
        }
        remove_stale_socket(&path).map_err(|m| Fatal(1, m))?;
        // The socket is created with the final mode: no window in which
        // another local user could connect.
        let old = unsafe { libc::umask(0o777 & !cfg.socket_mode as libc::mode_t) };
        let bound = UnixListener::bind(&path);
        unsafe { libc::umask(old) };
        let l = bound.map_err(|e| Fatal(1, format!("cannot listen on {}: {e}", path.display())))?;
        let shown = format!("unix:{}", path.display());
        return Ok((Listener::Unix(l, path), shown));
    }
    let addr: SocketAddr = cfg.listen.parse().map_err(|_| {
        Fatal(
            2,
            "listen must be HOST:PORT (an IP address) or unix:/path".into(),
        )
    })?;
    if !addr.ip().is_loopback() && !tls {
        return Err(Fatal(
            2,
            "a non-loopback listen address needs [tls] (cert_file, key_file): \
             tokens must not cross a network in clear text"
                .into(),
        ));
    }
    let l = TcpListener::bind(addr)
        .await
        .map_err(|e| Fatal(1, format!("cannot listen on {addr}: {e}")))?;
    let local = l.local_addr().map_err(|e| Fatal(1, e.to_string()))?;
    let scheme = if tls { "https" } else { "http" };
    Ok((Listener::Tcp(l), format!("{scheme}://{local}")))
}

/// A socket file left by a server that died is removed; anything else at
/// that path (a live server, a regular file) is an error.
fn remove_stale_socket(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::symlink_metadata(path) {
        Err(_) => Ok(()),
        Ok(m) if m.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(format!("{} is in use by a running server", path.display()));
            }
            std::fs::remove_file(path).map_err(|e| format!("cannot remove {}: {e}", path.display()))
        }
        Ok(_) => Err(format!("{} exists and is not a socket", path.display())),
    }
}

fn tls_acceptor(cert_file: &str, key_file: &str) -> Result<TlsAcceptor, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(cert_file)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("tls cert_file {cert_file}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("tls cert_file {cert_file}: no certificate"));
    }
    // The key's error never quotes it.
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|_| format!("tls key_file {key_file}: no readable PEM private key"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("tls: {e}"))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// SIGHUP: the file again, checked whole (a renewed certificate too); apps,
/// clients, limits and the certificate swapped in at once. A bad file
/// changes nothing. Another listen address, or TLS turned on or off, needs
/// a restart.
fn reload(path: &Path, shared: &Shared, listen: &str, tls: Option<&ArcSwap<TlsAcceptor>>) {
    let outcome = config::load(path).and_then(|cfg| {
        let acceptor = match (&cfg.tls, tls) {
            (Some(t), Some(_)) => Some(tls_acceptor(&t.cert_file, &t.key_file)?),
            _ => None,
        };
        configure_apps(&cfg).map_err(|Fatal(_, m)| m)?;
        Ok((cfg, acceptor))
    });
    match outcome {
        Ok((cfg, acceptor)) => {
            if cfg.listen != listen || cfg.tls.is_some() != tls.is_some() {
                crate::say(
                    Warn,
                    "serve_restart_needed",
                    "a new listen address, or TLS turned on or off, takes effect on restart",
                );
            }
            if cfg.workers != shared.state.load().workers {
                crate::say(
                    Warn,
                    "serve_restart_needed",
                    "a new number of workers takes effect on restart",
                );
            }
            if let (Some(slot), Some(acceptor)) = (tls, acceptor) {
                slot.store(Arc::new(acceptor));
            }
            let (apps, clients) = (cfg.apps.len(), cfg.clients.len());
            let old = shared.state.swap(Arc::new(State::from_config(cfg)));
            // A removed app is no longer refreshed; its token stays in the
            // store for a later reload that adds it back.
            let now = shared.state.load();
            for gone in old.apps.iter().filter(|a| now.app(&a.name).is_none()) {
                wxtoken::unconfigure(&gone.name);
            }
            crate::say(
                Info,
                "serve_reloaded",
                format!("reloaded ({apps} apps, {clients} clients)"),
            );
        }
        Err(m) => crate::say(
            Warn,
            "serve_reload_failed",
            format!("reload failed, keeping the running configuration: {m}"),
        ),
    }
}

/// Raises the open-file limit to fit `wanted` connections (plus files for
/// the store and the runtime) where the hard limit allows; past it, serves
/// fewer, so that accept never fails for want of a descriptor.
fn fit_to_fd_limit(wanted: usize) -> usize {
    const RESERVED: u64 = 64;
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return wanted;
    }
    let need = wanted as u64 + RESERVED;
    if lim.rlim_cur < need {
        let raised = libc::rlimit {
            rlim_cur: need.min(lim.rlim_max),
            rlim_max: lim.rlim_max,
        };
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim.rlim_cur = raised.rlim_cur;
        }
    }
    let usable = lim.rlim_cur.saturating_sub(RESERVED).max(1) as usize;
    if usable < wanted {
        crate::say(
            Warn,
            "serve_connection_limit",
            format!("serving at most {usable} connections (the open-file limit), not {wanted}"),
        );
    }
    usable.min(wanted)
}
