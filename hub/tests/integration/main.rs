//! hearth-hub's integration tests: a real hub (redb in a temporary home, an iroh
//! endpoint on loopback with relays off) and real member devices, proving what the hub
//! refuses — unknown and removed devices, bundles forged by a non-writer, and oversize
//! or garbage frames — while it keeps serving everyone else.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod center;
mod console;
mod enrollment;
mod limits;
mod peers;
mod quota;
mod refusals;
mod removal;
mod sharing;
mod strangers;
mod withholding;

use std::sync::Arc;
use std::time::Duration;

use hearth_core::access::Role;
use hearth_core::device::{self, SyncSummary};
use hearth_core::identity::{DeviceKeys, FileKeyStore, KeyStore, MemoryKeyStore};
use hearth_core::ids::DocId;
use hearth_core::model::NewCheckIn;
use hearth_core::pairing::PeerAddr;
use hearth_core::sync::message::{Message, PROTOCOL_VERSION, read_message, write_message};
use hearth_core::sync::net::{NetConfig, bind_endpoint};
use hearth_core::sync::{SYNC_ALPN, SyncError};
use hearth_core::vault::{Location, SyncItem, Vault, VaultError};
use hearth_hub::{Hub, HubConfig, HubLimits};
use iroh::Endpoint;
use iroh::endpoint::{Connection, RecvStream, SendStream};
use tempfile::TempDir;

/// How long any single network step may take before the test fails instead of hanging.
pub const WAIT: Duration = Duration::from_secs(10);

/// Loopback only, relays off.
pub fn net() -> NetConfig {
    NetConfig::loopback()
}

/// A hub serving from a fresh temporary home (kept alive by the returned directory).
pub async fn start_hub() -> (Hub, TempDir) {
    start_hub_with(HubLimits::default()).await
}

/// A hub with these connection limits.
pub async fn start_hub_with(limits: HubLimits) -> (Hub, TempDir) {
    let home = tempfile::tempdir().expect("hub home");
    let hub = Hub::start(HubConfig {
        limits,
        ..HubConfig::new(home.path().to_owned(), net())
    })
    .await
    .expect("start hub");
    (hub, home)
}

/// Where a device reaches the hub.
pub fn hub_peer(hub: &Hub) -> PeerAddr {
    PeerAddr {
        hub: true,
        addr: hub.ticket().addr.clone(),
    }
}

/// One device: its vault in a temporary directory (real redb) and its key store.
pub struct Device {
    /// The vault.
    pub vault: Arc<Vault>,
    /// The device seed.
    pub keys: MemoryKeyStore,
    dir: TempDir,
}

impl Device {
    /// The directory the device keeps its vault in.
    pub fn home(&self) -> &std::path::Path {
        self.dir.path()
    }

    fn location(dir: &TempDir) -> Location {
        Location::Dir(dir.path().join("vault"))
    }

    /// This device's keys (what a test needs to speak as it on the wire).
    pub fn device_keys(&self) -> DeviceKeys {
        DeviceKeys::derive(&self.keys.load().expect("load").expect("seed")).expect("derive")
    }

    /// Closes the vault and hands over its directory as the CLI or an app finds it:
    /// the vault, and the seed in `device.key` where `hearth --home` reads it.
    pub fn close(self) -> Home {
        let Device { vault, keys, dir } = self;
        drop(Arc::try_unwrap(vault).expect("nothing else holds the vault"));
        let seed = keys.load().expect("load").expect("seed");
        let path = dir.path().join("vault");
        FileKeyStore::new(path.join("device.key"))
            .save(&seed)
            .expect("write the key file");
        Home {
            path,
            seed: seed.expose().to_vec(),
            _dir: dir,
        }
    }

    /// Closes the vault and opens it again from its directory.
    pub fn reopen(self) -> Result<Device, VaultError> {
        let Device { vault, keys, dir } = self;
        drop(Arc::try_unwrap(vault).expect("nothing else holds the vault"));
        let vault = Vault::open(Self::location(&dir), &keys)?;
        Ok(Device {
            vault: Arc::new(vault),
            keys,
            dir,
        })
    }
}

/// A closed device's directory (see [`Device::close`]).
pub struct Home {
    /// The vault's directory (`hearth --home`, an app's data directory).
    pub path: std::path::PathBuf,
    /// The device seed's bytes (what an app's key store holds).
    pub seed: Vec<u8>,
    _dir: TempDir,
}

/// Where cargo put the workspace's binaries: `hearth` and `hearth-hub` (built by
/// `./scripts/test-all` before the tests run).
pub fn bin(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test binary");
    let path = exe
        .parent()
        .and_then(std::path::Path::parent)
        .expect("target dir")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace` first (./scripts/test-all does)",
        path.display()
    );
    path
}

/// A member's first device with a new journal.
pub fn new_member(name: &str) -> Device {
    let dir = tempfile::tempdir().expect("device dir");
    let keys = MemoryKeyStore::new();
    let vault = Vault::create(Device::location(&dir), &keys, Some(name)).expect("create vault");
    Device {
        vault: Arc::new(vault),
        keys,
        dir,
    }
}

/// A member's first device, enrolled at `hub`.
pub async fn enrolled_member(name: &str, hub: &Hub) -> Device {
    let member = new_member(name);
    device::enroll(&member.vault, hub.ticket(), &net())
        .await
        .expect("enroll");
    member
}

/// Another device `owner` adds with `role`: it joins from what `owner` holds and
/// remembers the same hubs and devices.
pub fn add_device(owner: &Vault, role: Role) -> Device {
    let dir = tempfile::tempdir().expect("device dir");
    let keys = MemoryKeyStore::new();
    let public = Vault::prepare_device(&keys).expect("prepare device");
    owner.authorize_device(&public, role).expect("authorize");
    let vault = Vault::join(
        Device::location(&dir),
        &keys,
        owner.journal_id().expect("journal id"),
        owner.sync_items().expect("sync items"),
    )
    .expect("join");
    for peer in owner.peers().expect("peers") {
        vault.remember_peer(&peer).expect("remember peer");
    }
    Device {
        vault: Arc::new(vault),
        keys,
        dir,
    }
}

/// One sync with every remembered peer, which must succeed.
pub async fn sync(vault: &Arc<Vault>) -> SyncSummary {
    let summary = tokio::time::timeout(WAIT * 2, device::sync_once(vault, &net(), None))
        .await
        .expect("sync timed out")
        .expect("sync");
    assert!(summary.failed.is_empty(), "{summary:?}");
    // An honest hub never looks like it withholds.
    assert!(summary.withheld.is_empty(), "{summary:?}");
    summary
}

/// Whether any file under `dir` contains `needle`.
pub fn any_file_contains(dir: &std::path::Path, needle: &[u8]) -> bool {
    std::fs::read_dir(dir).unwrap().any(|entry| {
        let path = entry.unwrap().path();
        if path.is_dir() {
            any_file_contains(&path, needle)
        } else {
            let bytes = std::fs::read(&path).unwrap();
            bytes.windows(needle.len()).any(|w| w == needle)
        }
    })
}

/// A plain check-in.
pub fn checkin(mood: u8, note: &str) -> NewCheckIn {
    NewCheckIn {
        mood,
        note: note.into(),
        ..Default::default()
    }
}

/// The notes of every check-in the member sees on this device.
pub fn notes(vault: &Vault) -> Vec<String> {
    vault
        .checkins()
        .expect("checkins")
        .into_iter()
        .map(|c| c.note)
        .collect()
}

/// A hello that offers no documents.
pub fn empty_hello() -> Message {
    Message::Hello {
        version: PROTOCOL_VERSION,
        docs: Vec::new(),
    }
}

/// A raw `hearth/sync/1` connection to the hub, speaking as the device whose key it
/// binds with: the test writes whatever bytes or messages it likes.
pub struct Raw {
    ep: Endpoint,
    conn: Connection,
    send: SendStream,
    recv: RecvStream,
}

impl Raw {
    /// Connects and opens the sync stream (the hub sees it with the first write).
    pub async fn connect(keys: &DeviceKeys, hub: &Hub) -> Raw {
        Self::connect_to(keys, hub.ticket().addr.clone()).await
    }

    /// Connects to any peer (a hub, or a member's listening device).
    pub async fn connect_to(keys: &DeviceKeys, addr: iroh::EndpointAddr) -> Raw {
        let ep = bind_endpoint(keys.endpoint_key(), &net(), Vec::new())
            .await
            .expect("bind");
        let conn = tokio::time::timeout(WAIT, ep.connect(addr, SYNC_ALPN))
            .await
            .expect("connect timed out")
            .expect("connect");
        let (send, recv) = conn.open_bi().await.expect("open stream");
        Raw {
            ep,
            conn,
            send,
            recv,
        }
    }

    /// Writes one message.
    pub async fn write(&mut self, msg: &Message) {
        write_message(&mut self.send, msg).await.expect("write");
    }

    /// Writes raw bytes.
    pub async fn write_bytes(&mut self, bytes: &[u8]) {
        self.send.write_all(bytes).await.expect("write bytes");
    }

    /// Ends our side of the stream.
    pub fn finish(&mut self) {
        self.send.finish().expect("finish");
    }

    /// Reads the hub's next message (`None` when it ended the stream).
    pub async fn read(&mut self) -> Result<Option<Message>, SyncError> {
        tokio::time::timeout(WAIT, read_message(&mut self.recv))
            .await
            .expect("the hub neither answered nor closed the stream")
    }

    /// Reads until the hub ends the stream or breaks the connection.
    pub async fn read_to_end(&mut self) -> Vec<Message> {
        let mut got = Vec::new();
        while let Ok(Some(m)) = self.read().await {
            got.push(m);
        }
        got
    }

    /// Waits until the other side closes the connection; returns why.
    pub async fn closed(&self) -> String {
        tokio::time::timeout(WAIT, self.conn.closed())
            .await
            .expect("the connection stayed open")
            .to_string()
    }

    /// Closes the connection and the endpoint.
    pub async fn close(self) {
        self.conn.close(0u32.into(), b"done");
        self.ep.close().await;
    }
}

/// Dials the hub as `keys` and says hello; returns why the hub closed the connection.
/// Fails if the hub answered anything at all.
pub async fn refused(keys: &DeviceKeys, hub: &Hub) -> String {
    let ep = bind_endpoint(keys.endpoint_key(), &net(), Vec::new())
        .await
        .expect("bind");
    let conn = tokio::time::timeout(WAIT, ep.connect(hub.ticket().addr.clone(), SYNC_ALPN))
        .await
        .expect("connect timed out")
        .expect("the handshake itself succeeds; the hub refuses after it");
    // Opening the stream or writing may already fail: the hub closes as soon as it
    // sees who dialled.
    if let Ok((mut send, mut recv)) = conn.open_bi().await
        && write_message(&mut send, &empty_hello()).await.is_ok()
    {
        let answer = tokio::time::timeout(WAIT, read_message(&mut recv))
            .await
            .expect("the hub neither answered nor closed");
        assert!(
            !matches!(answer, Ok(Some(_))),
            "the hub answered a device it must refuse: {answer:?}"
        );
    }
    let why = tokio::time::timeout(WAIT, conn.closed())
        .await
        .expect("the hub kept the connection open")
        .to_string();
    ep.close().await;
    why
}

/// A hello that lists `doc` as held with nothing in it: what a device that holds the
/// doc (and so joins it at the hub) but lacks everything would send.
pub fn hello_listing(doc: DocId) -> Message {
    Message::Hello {
        version: PROTOCOL_VERSION,
        docs: vec![hearth_core::sync::Summary {
            doc,
            count: 0,
            digest: [0; 32],
            acl_len: 0,
        }],
    }
}

/// Everything the hub holds of `doc`, fetched as the (admitted) device `keys`: list
/// the doc as held but empty, ask for it with no ids, collect the reply.
pub async fn hub_items(hub: &Hub, keys: &DeviceKeys, doc: DocId) -> Vec<SyncItem> {
    let mut raw = Raw::connect(keys, hub).await;
    raw.write(&hello_listing(doc)).await;
    match raw.read().await {
        Ok(Some(Message::Hello { docs, .. })) => {
            assert!(
                docs.iter().any(|s| s.doc == doc),
                "hub does not offer {doc}"
            )
        }
        other => panic!("expected the hub's hello, got {other:?}"),
    }
    raw.write(&Message::Ids {
        doc,
        ids: Vec::new(),
    })
    .await;
    let mut items = Vec::new();
    loop {
        match raw.read().await {
            // The hub asks for what we hold in turn, and answers only once answered
            // (we hold nothing).
            Ok(Some(Message::Ids { doc: d, .. })) => {
                raw.write(&Message::Items {
                    doc: d,
                    items: Vec::new(),
                    last: true,
                })
                .await
            }
            Ok(Some(Message::Items {
                doc: d,
                items: chunk,
                last,
            })) => {
                assert_eq!(d, doc);
                items.extend(chunk);
                if last {
                    break;
                }
            }
            other => panic!("expected items, got {other:?}"),
        }
    }
    raw.close().await;
    items
}
