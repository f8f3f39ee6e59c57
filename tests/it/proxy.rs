//! A TCP proxy the test controls, standing between the service and RabbitMQ or Postgres, to
//! cut connections or take the server "down" without touching the real server (other tests
//! share it).

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub struct Proxy {
    pub addr: SocketAddr,
    down: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Listens on an ephemeral port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let down = Arc::new(AtomicBool::new(false));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = tokio::spawn({
            let (down, links) = (Arc::clone(&down), Arc::clone(&links));
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if down.load(Ordering::SeqCst) {
                        drop(client); // refused: the server is "down"
                        continue;
                    }
                    let link = tokio::spawn(async move {
                        if let Ok(mut server) = TcpStream::connect(upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                    links.lock().expect("lock").push(link);
                }
            }
        });
        Proxy {
            addr,
            down,
            links,
            accept,
        }
    }

    /// Drops every open connection (as a broker restart or network cut would).
    pub fn cut(&self) {
        for link in self.links.lock().expect("lock").drain(..) {
            link.abort();
        }
    }

    /// Cuts every connection and refuses new ones until [`Proxy::up`].
    pub fn down(&self) {
        self.down.store(true, Ordering::SeqCst);
        self.cut();
    }

    pub fn up(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}
