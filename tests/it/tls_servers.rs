//! Servers speaking TLS for the `tls` tests, each stopped when dropped: certificates from a CA
//! made for the test run, a PostgreSQL cluster of the test's own (`initdb`, `ssl = on`, a free
//! port), and a TLS relay (`socat OPENSSL-LISTEN`) in front of the machine's RabbitMQ.
//!
//! Needs the PostgreSQL server binaries (`/usr/lib/postgresql/*/bin`) and `socat`. initdb
//! refuses to run as root: as root, the cluster runs as the `postgres` user.

#![allow(dead_code)]

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tempfile::TempDir;

/// Certificates for one test: `ca` signed the server's (for `localhost` only) and the
/// client's; `other_ca` signed nothing the servers use.
pub struct Pki {
    pub dir: TempDir,
    pub ca: PathBuf,
    pub other_ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

fn new_ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate().expect("CA key");
    let cert = params.self_signed(&key).expect("CA certificate");
    (cert.pem(), Issuer::new(params, key))
}

fn leaf(
    issuer: &Issuer<'static, KeyPair>,
    names: &[&str],
    usage: ExtendedKeyUsagePurpose,
) -> (String, String) {
    let mut params =
        CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
            .expect("params");
    params.distinguished_name.push(
        DnType::CommonName,
        names.first().copied().unwrap_or("client"),
    );
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![usage];
    let key = KeyPair::generate().expect("key");
    let cert = params.signed_by(&key, issuer).expect("certificate");
    (cert.pem(), key.serialize_pem())
}

impl Pki {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("turnover-pki-")
            .tempdir()
            .expect("tempdir");
        // Readable by the postgres user and by socat.
        set_mode(dir.path(), 0o755);
        let (ca, issuer) = new_ca("turnover test CA");
        let (other_ca, _) = new_ca("some other CA");
        let (server_cert, server_key) =
            leaf(&issuer, &["localhost"], ExtendedKeyUsagePurpose::ServerAuth);
        let (client_cert, client_key) = leaf(
            &issuer,
            &["turnover-client"],
            ExtendedKeyUsagePurpose::ClientAuth,
        );
        let write = |name: &str, content: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, content).expect("write a PEM file");
            set_mode(&path, 0o644);
            path
        };
        Pki {
            ca: write("ca.pem", &ca),
            other_ca: write("other-ca.pem", &other_ca),
            server_cert: write("server.pem", &server_cert),
            server_key: write("server.key", &server_key),
            client_cert: write("client.pem", &client_cert),
            client_key: write("client.key", &client_key),
            dir,
        }
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A port nothing listens on right now.
pub use crate::spawn::free_port;

fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not listen on {port} within 20 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The newest PostgreSQL server binaries of the machine.
fn pg_bin() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL server binaries in /usr/lib/postgresql")
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, bin)| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .expect("an initdb under /usr/lib/postgresql")
        .1
}

/// A PostgreSQL cluster of its own with `ssl = on` and the test's server certificate, on
/// 127.0.0.1 and a free port, trusting every local connection. Stopped and deleted on drop.
pub struct TlsPostgres {
    dir: TempDir,
    data: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
    pub port: u16,
}

impl TlsPostgres {
    pub fn start(pki: &Pki) -> Self {
        let bin = pg_bin();
        let as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix("turnover-pg-")
            .tempdir()
            .expect("tempdir");
        let data = dir.path().join("data");
        let port = free_port();
        let this = TlsPostgres {
            data,
            bin,
            as_postgres,
            port,
            dir,
        };
        if as_postgres {
            run(Command::new("chown").arg("postgres:").arg(this.dir.path()));
        }
        this.pg("initdb", |c| {
            c.arg("-D").arg(&this.data).args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
        });
        for (from, to) in [
            (&pki.server_cert, "server.crt"),
            (&pki.server_key, "server.key"),
        ] {
            let target = this.data.join(to);
            std::fs::copy(from, &target).expect("copy the server certificate");
            set_mode(&target, 0o600);
            if as_postgres {
                run(Command::new("chown").arg("postgres:").arg(&target));
            }
        }
        let conf = format!(
            "\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n\
             fsync = off\nmax_connections = 40\nshared_buffers = 16MB\n",
            this.dir.path().display()
        );
        let conf_path = this.data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf_path).expect("postgresql.conf");
        text.push_str(&conf);
        std::fs::write(&conf_path, text).expect("write postgresql.conf");
        let log = this.dir.path().join("postgres.log");
        this.pg("pg_ctl", |c| {
            c.arg("-D")
                .arg(&this.data)
                .arg("-l")
                .arg(&log)
                .args(["-w", "-t", "60", "start"])
        });
        wait_for_port(port, "the TLS PostgreSQL cluster");
        this
    }

    /// Runs one of the cluster's binaries, as `postgres` when we are root.
    fn pg(&self, tool: &str, args: impl FnOnce(&mut Command) -> &mut Command) {
        let program = self.bin.join(tool);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        args(&mut command);
        run(&mut command);
    }

    /// `postgres://postgres:s3cret@HOST:PORT/DB?QUERY` (the password is ignored: trust).
    pub fn url(&self, host: &str, db: &str, query: &str) -> String {
        format!(
            "postgres://postgres:s3cret@{host}:{}/{db}?{query}",
            self.port
        )
    }

    /// The server log, for a failing assertion.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
    }
}

impl Drop for TlsPostgres {
    fn drop(&mut self) {
        let data = self.data.clone();
        self.pg("pg_ctl", |c| {
            c.arg("-D")
                .arg(&data)
                .args(["-m", "immediate", "-w", "stop"])
        });
    }
}

fn run(command: &mut Command) {
    let output = command.output().expect("run a command");
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A TLS endpoint in front of the machine's RabbitMQ (`socat OPENSSL-LISTEN`, one process per
/// connection) with the test's server certificate; with `client_ca`, it requires a client
/// certificate signed by it. Killed on drop.
pub struct TlsRelay {
    child: Child,
    pub port: u16,
}

impl TlsRelay {
    pub fn start(pki: &Pki, upstream: SocketAddr, client_ca: Option<&Path>) -> Self {
        let port = free_port();
        let verify = match client_ca {
            Some(ca) => format!("verify=1,cafile={}", ca.display()),
            None => "verify=0".to_owned(),
        };
        let listen = format!(
            "OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,cert={},key={},{verify}",
            pki.server_cert.display(),
            pki.server_key.display()
        );
        let child = Command::new("socat")
            .arg(listen)
            .arg(format!("TCP:{upstream}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("socat (apt-get install socat)");
        let relay = TlsRelay { child, port };
        wait_for_port(port, "socat");
        relay
    }
}

impl Drop for TlsRelay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
