//! The local store: one redb file holding only signed bundles, envelopes and access
//! records (all either ciphertext or public), plus a little non-secret metadata.
//! It never sees plaintext and never decides validity: callers check before they
//! write. Writes that arrive together go in one transaction; a durable write is
//! fsync'd before it returns. Every item is keyed by its content id, so "do we hold
//! it" is one lookup; an envelope also holds a slot (doc, epoch, recipient, granter,
//! key) that is never given to a different envelope.

use std::collections::BTreeSet;
use std::ops::Bound;
use std::path::{Path, PathBuf};

use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};

use crate::envelope::Envelope;
use crate::ids::{AclId, BundleId, DeviceId, DocId};
use crate::item::{ItemId, SyncItem};
use crate::sync::message::MAX_ITEMS;

const BUNDLES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("bundles");
/// Pieces of bundles larger than [`PIECE`]: redb gives one large value a
/// power-of-two run of pages (a 350 KB snapshot took 1 MiB), small values pack.
const PIECES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("bundle_pieces");
/// The largest bundle stored as one value; larger ones are split into pieces.
const PIECE: usize = 16_000;
const INLINE: u8 = 0;
const SPLIT: u8 = 1;
const ENVELOPES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("envelopes");
/// (doc, epoch, recipient, granter, key) -> the id of the one envelope in that slot.
const ENVELOPE_SLOTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("envelope_slots");
const ACL: TableDefinition<&[u8], &[u8]> = TableDefinition::new("acl");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// The layout this build writes; a store without it was made by an earlier build.
const FORMAT_KEY: &str = "store_format";
const FORMAT: &[u8] = b"2";

/// The store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The file is missing.
    #[error("no Hearth store at {0}")]
    Missing(PathBuf),
    /// Another process has the store open.
    #[error("the store at {0} is in use by another Hearth process")]
    InUse(PathBuf),
    /// The file is damaged or is not a redb store.
    #[error("the store at {path} is damaged or not a Hearth store ({reason})")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What redb said.
        reason: String,
    },
    /// The file was written by an earlier development build whose formats this
    /// build does not read.
    #[error(
        "the store at {0} was made by an earlier development build of Hearth; restore a backup or start afresh"
    )]
    OldFormat(PathBuf),
    /// A read or write failed.
    #[error("store: {0}")]
    Db(Box<redb::Error>),
}

fn db_err(e: impl Into<redb::Error>) -> StoreError {
    StoreError::Db(Box::new(e.into()))
}

/// A stored key and value.
type Row = (Vec<u8>, Vec<u8>);

/// Where a page of a doc's items stopped (see [`Store::items_page`]): the table and
/// the last key read in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemsCursor {
    table: u8,
    after: Vec<u8>,
}

/// Writes that commit together.
#[derive(Debug, Default)]
pub struct Batch {
    bundles: Vec<(DocId, BundleId, Vec<u8>)>,
    deletes: Vec<(DocId, BundleId)>,
    envelopes: Vec<(DocId, [u8; 116], ItemId, Vec<u8>)>,
    acl: Vec<(DocId, AclId, Vec<u8>)>,
    meta: Vec<(String, Vec<u8>)>,
    meta_deletes: Vec<String>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores a bundle's signed bytes.
    pub fn put_bundle(&mut self, doc: DocId, id: BundleId, bytes: Vec<u8>) -> &mut Self {
        self.bundles.push((doc, id, bytes));
        self
    }

    /// Takes back a bundle put earlier in this batch.
    pub fn forget_bundle(&mut self, id: &BundleId) -> &mut Self {
        self.bundles.retain(|(_, b, _)| b != id);
        self
    }

    /// Deletes a superseded bundle.
    pub fn delete_bundle(&mut self, doc: DocId, id: BundleId) -> &mut Self {
        self.deletes.push((doc, id));
        self
    }

    /// Stores an envelope, unless its slot already holds a different one.
    pub fn put_envelope(&mut self, doc: DocId, envelope: &Envelope) -> &mut Self {
        let b = envelope.body();
        let slot = envelope_slot(&doc, b.epoch, &b.recipient, &b.key.0, &b.granter);
        self.envelopes
            .push((doc, slot, envelope.id(), envelope.bytes().to_vec()));
        self
    }

    /// Stores an ACL record.
    pub fn put_acl(&mut self, doc: DocId, id: AclId, bytes: Vec<u8>) -> &mut Self {
        self.acl.push((doc, id, bytes));
        self
    }

    /// Sets a metadata value (never secret, never personal).
    pub fn put_meta(&mut self, key: &str, value: Vec<u8>) -> &mut Self {
        self.meta.push((key.to_owned(), value));
        self
    }

    /// Deletes a metadata value.
    pub fn delete_meta(&mut self, key: &str) -> &mut Self {
        self.meta_deletes.push(key.to_owned());
        self
    }

    /// The items this batch stores (ACL records, envelopes, bundles), as sync items.
    pub fn items(&self) -> Vec<SyncItem> {
        let mut out: Vec<SyncItem> = self
            .acl
            .iter()
            .map(|(_, _, b)| SyncItem::Acl(b.clone()))
            .collect();
        out.extend(
            self.envelopes
                .iter()
                .map(|(_, _, _, b)| SyncItem::Envelope(b.clone())),
        );
        out.extend(
            self.bundles
                .iter()
                .map(|(_, _, b)| SyncItem::Bundle(b.clone())),
        );
        out
    }

    /// Whether the batch writes nothing.
    pub fn is_empty(&self) -> bool {
        self.bundles.is_empty()
            && self.deletes.is_empty()
            && self.envelopes.is_empty()
            && self.acl.is_empty()
            && self.meta.is_empty()
            && self.meta_deletes.is_empty()
    }
}

/// The redb-backed store.
#[derive(Debug)]
pub struct Store {
    db: Database,
    path: Option<PathBuf>,
}

fn key2(doc: &DocId, id: &[u8; 32]) -> [u8; 48] {
    let mut k = [0u8; 48];
    k[..16].copy_from_slice(doc.as_bytes());
    k[16..].copy_from_slice(id);
    k
}

fn piece_key(bundle_key: &[u8; 48], index: u32) -> [u8; 52] {
    let mut k = [0u8; 52];
    k[..48].copy_from_slice(bundle_key);
    k[48..].copy_from_slice(&index.to_be_bytes());
    k
}

/// The length of the bundle whose `bundles` entry is `value`: an inline one's bytes,
/// or a split one's full pieces and its last piece.
fn entry_len(
    pieces: &redb::ReadOnlyTable<&[u8], &[u8]>,
    key: &[u8; 48],
    value: &[u8],
) -> Result<u64, StoreError> {
    match split_count(value) {
        None => Ok(value.len().saturating_sub(1) as u64),
        Some(0) => Ok(0),
        Some(count) => {
            let last = pieces
                .get(piece_key(key, count - 1).as_slice())
                .map_err(db_err)?
                .map_or(0, |p| p.value().len() as u64);
            Ok(u64::from(count - 1) * PIECE as u64 + last)
        }
    }
}

/// The piece count of a split bundle's entry, or `None` for an inline one.
fn split_count(value: &[u8]) -> Option<u32> {
    match value {
        [SPLIT, a, b, c, d] => Some(u32::from_le_bytes([*a, *b, *c, *d])),
        _ => None,
    }
}

fn envelope_slot(
    doc: &DocId,
    epoch: u32,
    to: &DeviceId,
    key: &[u8; 32],
    granter: &DeviceId,
) -> [u8; 116] {
    // One slot per (doc, epoch, recipient, key, granter): one granter's envelope never
    // displaces another's, and "does this device have this key" is one range read.
    let mut k = [0u8; 116];
    k[..16].copy_from_slice(doc.as_bytes());
    k[16..20].copy_from_slice(&epoch.to_be_bytes());
    k[20..52].copy_from_slice(to.as_bytes());
    k[52..84].copy_from_slice(key);
    k[84..].copy_from_slice(granter.as_bytes());
    k
}

/// The 32-byte ids in the keys (doc ‖ id) of a doc's rows in `table`, sorted.
fn key_ids(
    tx: &redb::ReadTransaction,
    table: TableDefinition<&[u8], &[u8]>,
    doc: &DocId,
) -> Result<Vec<[u8; 32]>, StoreError> {
    let (start, end) = doc_range(doc);
    let mut ids = Vec::new();
    for row in tx
        .open_table(table)
        .map_err(db_err)?
        .range(start.as_slice()..end.as_slice())
        .map_err(db_err)?
    {
        let key = row.map_err(db_err)?.0;
        ids.extend(
            key.value()
                .get(16..48)
                .and_then(|k| <[u8; 32]>::try_from(k).ok()),
        );
    }
    Ok(ids)
}

/// A bundle row's key: the doc id and the bundle id (48 bytes), or `None` for a key of
/// another shape.
fn bundle_key(key: &[u8]) -> Option<[u8; 48]> {
    key.get(..48).and_then(|k| <[u8; 48]>::try_from(k).ok())
}

/// A stored bundle's bytes from its row (inline, or gathered from its pieces).
fn bundle_bytes(
    pieces: &redb::ReadOnlyTable<&[u8], &[u8]>,
    key: &[u8; 48],
    id: &BundleId,
    v: &[u8],
) -> Result<Vec<u8>, StoreError> {
    let corrupted = |what: String| StoreError::Db(Box::new(redb::Error::Corrupted(what)));
    match (v.first(), split_count(v)) {
        (Some(&INLINE), _) => Ok(v[1..].to_vec()),
        (_, Some(count)) => {
            let mut bytes = Vec::with_capacity(count as usize * PIECE);
            for i in 0..count {
                let piece = pieces.get(piece_key(key, i).as_slice()).map_err(db_err)?;
                let piece = piece.ok_or_else(|| {
                    corrupted(format!("bundle {id:?} is missing piece {i} of {count}"))
                })?;
                bytes.extend_from_slice(piece.value());
            }
            Ok(bytes)
        }
        _ => Err(corrupted(format!("bundle {id:?} has an unknown layout"))),
    }
}

fn doc_range(doc: &DocId) -> (Vec<u8>, Vec<u8>) {
    let start = doc.as_bytes().to_vec();
    let mut end = start.clone();
    end.push(0xff);
    end.resize(16 + 64, 0xff);
    (start, end)
}

/// Pages a member's store keeps in memory: its whole journal, many times over.
const DEFAULT_CACHE: usize = 64 << 20;

impl Store {
    /// Opens the store file, creating it when `create` is set.
    pub fn open(path: &Path, create: bool) -> Result<Self, StoreError> {
        Self::open_caching(path, create, DEFAULT_CACHE)
    }

    /// [`Store::open`], keeping at most `cache_bytes` of the file's pages in memory (a
    /// hub's store holds every member's journal: redb's default would let it cache a
    /// gibibyte of what it just wrote).
    pub fn open_caching(path: &Path, create: bool, cache_bytes: usize) -> Result<Self, StoreError> {
        if !create && !path.exists() {
            return Err(StoreError::Missing(path.to_owned()));
        }
        let is_new = !path.exists();
        let db = Database::builder()
            .set_cache_size(cache_bytes)
            .create(path)
            .map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => StoreError::InUse(path.to_owned()),
                other => StoreError::Damaged {
                    path: path.to_owned(),
                    reason: other.to_string(),
                },
            })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
        let store = Store {
            db,
            path: Some(path.to_owned()),
        };
        if is_new || !store.has_tables()? {
            // A new file, or one a crash left before its tables were made.
            store.ensure_tables()?;
        } else if store.meta(FORMAT_KEY)?.as_deref() != Some(FORMAT) {
            return Err(StoreError::OldFormat(path.to_owned()));
        }
        Ok(store)
    }

    /// A store that lives in memory only (tests, benchmarks).
    pub fn in_memory() -> Result<Self, StoreError> {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(db_err)?;
        let store = Store { db, path: None };
        store.ensure_tables()?;
        Ok(store)
    }

    fn has_tables(&self) -> Result<bool, StoreError> {
        let tx = self.db.begin_read().map_err(db_err)?;
        match tx.open_table(META) {
            Ok(_) => Ok(true),
            Err(redb::TableError::TableDoesNotExist(_)) => Ok(false),
            Err(e) => Err(db_err(e)),
        }
    }

    fn ensure_tables(&self) -> Result<(), StoreError> {
        let tx = self.db.begin_write().map_err(db_err)?;
        tx.open_table(BUNDLES).map_err(db_err)?;
        tx.open_table(PIECES).map_err(db_err)?;
        tx.open_table(ENVELOPES).map_err(db_err)?;
        tx.open_table(ENVELOPE_SLOTS).map_err(db_err)?;
        tx.open_table(ACL).map_err(db_err)?;
        tx.open_table(META)
            .map_err(db_err)?
            .insert(FORMAT_KEY, FORMAT)
            .map_err(db_err)?;
        tx.commit().map_err(db_err)
    }

    /// The file, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Commits a batch. With `durable` the data is on disk when this returns.
    pub fn commit(&self, batch: Batch, durable: bool) -> Result<(), StoreError> {
        let mut tx = self.db.begin_write().map_err(db_err)?;
        tx.set_durability(if durable {
            Durability::Immediate
        } else {
            Durability::None
        })
        .map_err(db_err)?;
        {
            let mut bundles = tx.open_table(BUNDLES).map_err(db_err)?;
            let mut pieces = tx.open_table(PIECES).map_err(db_err)?;
            for (doc, id, bytes) in &batch.bundles {
                let key = key2(doc, id.as_bytes());
                if bytes.len() <= PIECE {
                    let mut value = Vec::with_capacity(bytes.len() + 1);
                    value.push(INLINE);
                    value.extend_from_slice(bytes);
                    bundles
                        .insert(key.as_slice(), value.as_slice())
                        .map_err(db_err)?;
                    continue;
                }
                let count = bytes.len().div_ceil(PIECE) as u32;
                let mut value = vec![SPLIT];
                value.extend_from_slice(&count.to_le_bytes());
                bundles
                    .insert(key.as_slice(), value.as_slice())
                    .map_err(db_err)?;
                for (i, piece) in bytes.chunks(PIECE).enumerate() {
                    pieces
                        .insert(piece_key(&key, i as u32).as_slice(), piece)
                        .map_err(db_err)?;
                }
            }
            for (doc, id) in &batch.deletes {
                let key = key2(doc, id.as_bytes());
                let old = bundles.remove(key.as_slice()).map_err(db_err)?;
                if let Some(count) = old.and_then(|v| split_count(v.value())) {
                    for i in 0..count {
                        pieces
                            .remove(piece_key(&key, i).as_slice())
                            .map_err(db_err)?;
                    }
                }
            }
            let mut envelopes = tx.open_table(ENVELOPES).map_err(db_err)?;
            let mut slots = tx.open_table(ENVELOPE_SLOTS).map_err(db_err)?;
            for (doc, slot, id, bytes) in &batch.envelopes {
                // A stored envelope is never replaced by a different one.
                if slots.get(slot.as_slice()).map_err(db_err)?.is_some() {
                    continue;
                }
                slots
                    .insert(slot.as_slice(), id.0.as_slice())
                    .map_err(db_err)?;
                envelopes
                    .insert(key2(doc, &id.0).as_slice(), bytes.as_slice())
                    .map_err(db_err)?;
            }
            let mut acl = tx.open_table(ACL).map_err(db_err)?;
            for (doc, id, bytes) in &batch.acl {
                acl.insert(key2(doc, id.as_bytes()).as_slice(), bytes.as_slice())
                    .map_err(db_err)?;
            }
            let mut meta = tx.open_table(META).map_err(db_err)?;
            for (key, value) in &batch.meta {
                meta.insert(key.as_str(), value.as_slice())
                    .map_err(db_err)?;
            }
            for key in &batch.meta_deletes {
                meta.remove(key.as_str()).map_err(db_err)?;
            }
        }
        tx.commit().map_err(db_err)
    }

    fn scan(
        &self,
        table: TableDefinition<&[u8], &[u8]>,
        doc: &DocId,
    ) -> Result<Vec<Row>, StoreError> {
        let tx = self.db.begin_read().map_err(db_err)?;
        let t = tx.open_table(table).map_err(db_err)?;
        let (start, end) = doc_range(doc);
        let mut out = Vec::new();
        for row in t.range(start.as_slice()..end.as_slice()).map_err(db_err)? {
            let (k, v) = row.map_err(db_err)?;
            out.push((k.value().to_vec(), v.value().to_vec()));
        }
        Ok(out)
    }

    /// Every stored bundle of a doc, as (id, signed bytes).
    pub fn bundles(&self, doc: &DocId) -> Result<Vec<(BundleId, Vec<u8>)>, StoreError> {
        self.bundles_where(doc, |_| true)
    }

    /// The stored bundles of a doc that `wanted` picks, as (id, signed bytes); the
    /// others are not read.
    pub fn bundles_where(
        &self,
        doc: &DocId,
        wanted: impl Fn(&BundleId) -> bool,
    ) -> Result<Vec<(BundleId, Vec<u8>)>, StoreError> {
        let tx = self.db.begin_read().map_err(db_err)?;
        let table = tx.open_table(BUNDLES).map_err(db_err)?;
        let pieces = tx.open_table(PIECES).map_err(db_err)?;
        let (start, end) = doc_range(doc);
        let mut out = Vec::new();
        for row in table
            .range(start.as_slice()..end.as_slice())
            .map_err(db_err)?
        {
            let (k, v) = row.map_err(db_err)?;
            let Some(key) = bundle_key(k.value()) else {
                continue;
            };
            let mut id = [0u8; 32];
            id.copy_from_slice(&key[16..]);
            let id = BundleId(id);
            if !wanted(&id) {
                continue;
            }
            let bytes = bundle_bytes(&pieces, &key, &id, v.value())?;
            out.push((id, bytes));
        }
        Ok(out)
    }

    /// One page of the items of `doc` that `skip` leaves out of, in the order a peer
    /// takes them (access records, envelopes, bundles), from `from` (`None`: the
    /// first page): items while they fit `budget` bytes and [`MAX_ITEMS`] (an item
    /// larger than the budget goes alone), and where the next page starts (`None`
    /// after the last). Only the items returned are read, so answering a peer that
    /// lacks a whole journal holds one page at a time.
    pub fn items_page(
        &self,
        doc: &DocId,
        skip: &BTreeSet<ItemId>,
        from: Option<&ItemsCursor>,
        budget: usize,
    ) -> Result<(Vec<SyncItem>, Option<ItemsCursor>), StoreError> {
        const TABLES: [TableDefinition<&[u8], &[u8]>; 3] = [ACL, ENVELOPES, BUNDLES];
        let tx = self.db.begin_read().map_err(db_err)?;
        let pieces = tx.open_table(PIECES).map_err(db_err)?;
        let (start, end) = doc_range(doc);
        let first = from.map_or(0, |c| usize::from(c.table));
        let mut out = Vec::new();
        let mut size: usize = 0;
        let mut last: Option<(u8, Vec<u8>)> = None;
        for (t, def) in TABLES.iter().enumerate().skip(first) {
            let table = tx.open_table(*def).map_err(db_err)?;
            let lower = match from {
                Some(c) if usize::from(c.table) == t => Bound::Excluded(c.after.as_slice()),
                _ => Bound::Included(start.as_slice()),
            };
            let rows = table
                .range::<&[u8]>((lower, Bound::Excluded(end.as_slice())))
                .map_err(db_err)?;
            for row in rows {
                let (k, v) = row.map_err(db_err)?;
                let (key, v) = (k.value(), v.value());
                let Some(id) = key.get(16..48).and_then(|k| <[u8; 32]>::try_from(k).ok()) else {
                    continue;
                };
                if skip.contains(&ItemId(id)) {
                    continue;
                }
                // A split bundle's size is known from its row before it is read.
                let len = match (t, split_count(v)) {
                    (2, Some(count)) => count as usize * PIECE,
                    _ => v.len(),
                };
                if !out.is_empty() && (size.saturating_add(len) > budget || out.len() == MAX_ITEMS)
                {
                    return Ok((out, last.map(|(table, after)| ItemsCursor { table, after })));
                }
                let item = match t {
                    0 => SyncItem::Acl(v.to_vec()),
                    1 => SyncItem::Envelope(v.to_vec()),
                    _ => {
                        let Some(bk) = bundle_key(key) else {
                            continue;
                        };
                        SyncItem::Bundle(bundle_bytes(&pieces, &bk, &BundleId(id), v)?)
                    }
                };
                size += len;
                out.push(item);
                last = Some((t as u8, key.to_vec()));
            }
        }
        Ok((out, None))
    }

    /// The ids of everything stored for a doc, and how many are ACL records, without
    /// reading any bundle (their ids are their keys).
    pub fn item_ids(&self, doc: &DocId) -> Result<(Vec<ItemId>, usize), StoreError> {
        let tx = self.db.begin_read().map_err(db_err)?;
        let mut ids: Vec<ItemId> = key_ids(&tx, ACL, doc)?.into_iter().map(ItemId).collect();
        let acl = ids.len();
        ids.extend(key_ids(&tx, ENVELOPES, doc)?.into_iter().map(ItemId));
        ids.extend(key_ids(&tx, BUNDLES, doc)?.into_iter().map(ItemId));
        Ok((ids, acl))
    }

    /// The ids of a doc's stored bundles, sorted.
    pub fn bundle_ids(&self, doc: &DocId) -> Result<Vec<BundleId>, StoreError> {
        let tx = self.db.begin_read().map_err(db_err)?;
        Ok(key_ids(&tx, BUNDLES, doc)?
            .into_iter()
            .map(BundleId)
            .collect())
    }

    /// Which of `ids` are stored, in one read.
    pub fn held_bundles(
        &self,
        doc: &DocId,
        ids: &[BundleId],
    ) -> Result<BTreeSet<BundleId>, StoreError> {
        let tx = self.db.begin_read().map_err(db_err)?;
        let t = tx.open_table(BUNDLES).map_err(db_err)?;
        let mut out = BTreeSet::new();
        for id in ids {
            if t.get(key2(doc, id.as_bytes()).as_slice())
                .map_err(db_err)?
                .is_some()
            {
                out.insert(*id);
            }
        }
        Ok(out)
    }

    /// Whether a bundle is stored.
    pub fn has_bundle(&self, doc: &DocId, id: &BundleId) -> Result<bool, StoreError> {
        let tx = self.db.begin_read().map_err(db_err)?;
        let t = tx.open_table(BUNDLES).map_err(db_err)?;
        Ok(t.get(key2(doc, id.as_bytes()).as_slice())
            .map_err(db_err)?
            .is_some())
    }

    /// The length of a stored bundle's signed bytes, if it is stored (reads one entry,
    /// and the last piece of a split bundle).
    pub fn bundle_len(&self, doc: &DocId, id: &BundleId) -> Result<Option<u64>, StoreError> {
        let tx = self.db.begin_read().map_err(db_err)?;
        let bundles = tx.open_table(BUNDLES).map_err(db_err)?;
        let pieces = tx.open_table(PIECES).map_err(db_err)?;
        let key = key2(doc, id.as_bytes());
        let Some(v) = bundles.get(key.as_slice()).map_err(db_err)? else {
            return Ok(None);
        };
        Ok(Some(entry_len(&pieces, &key, v.value())?))
    }

    /// How many bytes a doc's stored items take: every bundle's signed bytes, every
    /// envelope and access record (for a hub's quota; bundles are not read whole).
    pub fn doc_bytes(&self, doc: &DocId) -> Result<u64, StoreError> {
        let tx = self.db.begin_read().map_err(db_err)?;
        let (start, end) = doc_range(doc);
        let mut total = 0u64;
        let bundles = tx.open_table(BUNDLES).map_err(db_err)?;
        let pieces = tx.open_table(PIECES).map_err(db_err)?;
        for row in bundles
            .range(start.as_slice()..end.as_slice())
            .map_err(db_err)?
        {
            let (k, v) = row.map_err(db_err)?;
            let Some(key) = bundle_key(k.value()) else {
                continue;
            };
            total += entry_len(&pieces, &key, v.value())?;
        }
        for table in [ENVELOPES, ACL] {
            for row in tx
                .open_table(table)
                .map_err(db_err)?
                .range(start.as_slice()..end.as_slice())
                .map_err(db_err)?
            {
                total += row.map_err(db_err)?.1.value().len() as u64;
            }
        }
        Ok(total)
    }

    /// Everything stored for a doc, as sync items: ACL records, envelopes, bundles.
    pub fn items(&self, doc: &DocId) -> Result<Vec<SyncItem>, StoreError> {
        self.items_except(doc, &BTreeSet::new())
    }

    /// Everything stored for a doc whose id is not in `except`, in one piece (what
    /// [`Store::items_page`] gives a page at a time); bundles left out are not read.
    pub fn items_except(
        &self,
        doc: &DocId,
        except: &BTreeSet<ItemId>,
    ) -> Result<Vec<SyncItem>, StoreError> {
        let (mut items, mut from) = (Vec::new(), None);
        loop {
            let (page, next) = self.items_page(doc, except, from.as_ref(), usize::MAX)?;
            items.extend(page);
            match next {
                Some(n) => from = Some(n),
                None => return Ok(items),
            }
        }
    }

    /// Whether an envelope of `key` for `recipient` and `epoch` is stored (from any
    /// granter).
    pub fn has_envelope_for(
        &self,
        doc: &DocId,
        epoch: u32,
        recipient: &DeviceId,
        key: &[u8; 32],
    ) -> Result<bool, StoreError> {
        let tx = self.db.begin_read().map_err(db_err)?;
        let t = tx.open_table(ENVELOPE_SLOTS).map_err(db_err)?;
        let start = envelope_slot(doc, epoch, recipient, key, &DeviceId([0; 32]));
        let end = envelope_slot(doc, epoch, recipient, key, &DeviceId([0xff; 32]));
        let found = t
            .range(start.as_slice()..=end.as_slice())
            .map_err(db_err)?
            .next()
            .is_some();
        Ok(found)
    }

    /// Whether an item with this content id is stored for the doc (bundle, ACL record
    /// or envelope).
    pub fn has_item(&self, doc: &DocId, id: &ItemId) -> Result<bool, StoreError> {
        let tx = self.db.begin_read().map_err(db_err)?;
        let key = key2(doc, &id.0);
        for table in [BUNDLES, ACL, ENVELOPES] {
            let t = tx.open_table(table).map_err(db_err)?;
            if t.get(key.as_slice()).map_err(db_err)?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Every envelope of a doc.
    pub fn envelopes(&self, doc: &DocId) -> Result<Vec<Vec<u8>>, StoreError> {
        Ok(self
            .scan(ENVELOPES, doc)?
            .into_iter()
            .map(|(_, v)| v)
            .collect())
    }

    /// Every ACL record of a doc.
    pub fn acl(&self, doc: &DocId) -> Result<Vec<Vec<u8>>, StoreError> {
        Ok(self.scan(ACL, doc)?.into_iter().map(|(_, v)| v).collect())
    }

    /// A metadata value.
    pub fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let tx = self.db.begin_read().map_err(db_err)?;
        let t = tx.open_table(META).map_err(db_err)?;
        Ok(t.get(key).map_err(db_err)?.map(|v| v.value().to_vec()))
    }

    /// Every doc with at least one ACL record.
    pub fn docs(&self) -> Result<Vec<DocId>, StoreError> {
        let tx = self.db.begin_read().map_err(db_err)?;
        let t = tx.open_table(ACL).map_err(db_err)?;
        let mut out: Vec<DocId> = Vec::new();
        for row in t.iter().map_err(db_err)? {
            let (k, _) = row.map_err(db_err)?;
            if let Some(Ok(id)) = k.value().get(..16).map(<[u8; 16]>::try_from)
                && out.last() != Some(&DocId(id))
            {
                out.push(DocId(id));
            }
        }
        Ok(out)
    }

    /// Metadata entries whose key starts with `prefix`.
    pub fn meta_prefixed(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let tx = self.db.begin_read().map_err(db_err)?;
        let t = tx.open_table(META).map_err(db_err)?;
        let mut out = Vec::new();
        for row in t.range(prefix..).map_err(db_err)? {
            let (k, v) = row.map_err(db_err)?;
            if !k.value().starts_with(prefix) {
                break;
            }
            out.push((k.value().to_owned(), v.value().to_vec()));
        }
        Ok(out)
    }

    /// Rewrites the file to reclaim the space of deleted bundles.
    pub fn compact_file(&mut self) -> Result<(), StoreError> {
        self.db.compact().map_err(db_err)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_scans_and_deletes() {
        let store = Store::in_memory().unwrap();
        let (d1, d2) = (DocId([1; 16]), DocId([2; 16]));
        let mut b = Batch::new();
        b.put_bundle(d1, BundleId([1; 32]), b"one".to_vec())
            .put_bundle(d1, BundleId([2; 32]), b"two".to_vec())
            .put_bundle(d2, BundleId([3; 32]), b"other".to_vec())
            .put_meta("k", b"v".to_vec());
        store.commit(b, true).unwrap();
        assert_eq!(
            store.bundle_ids(&d1).unwrap(),
            vec![BundleId([1; 32]), BundleId([2; 32])]
        );
        assert_eq!(store.meta("k").unwrap().unwrap(), b"v");
        let mut b = Batch::new();
        b.delete_bundle(d1, BundleId([1; 32]));
        store.commit(b, false).unwrap();
        assert!(!store.has_bundle(&d1, &BundleId([1; 32])).unwrap());
        assert!(store.has_bundle(&d2, &BundleId([3; 32])).unwrap());
    }

    #[test]
    fn large_bundles_are_split_and_read_back_whole() {
        use redb::ReadableTableMetadata;
        let store = Store::in_memory().unwrap();
        let doc = DocId([1; 16]);
        let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let small = vec![9u8; PIECE];
        let mut b = Batch::new();
        b.put_bundle(doc, BundleId([1; 32]), big.clone())
            .put_bundle(doc, BundleId([2; 32]), small.clone());
        store.commit(b, true).unwrap();
        let got = store.bundles(&doc).unwrap();
        assert_eq!(
            got,
            vec![(BundleId([1; 32]), big), (BundleId([2; 32]), small)]
        );
        let mut b = Batch::new();
        b.delete_bundle(doc, BundleId([1; 32]));
        store.commit(b, true).unwrap();
        assert_eq!(store.bundle_ids(&doc).unwrap(), vec![BundleId([2; 32])]);
        let tx = store.db.begin_read().unwrap();
        let pieces = tx.open_table(PIECES).unwrap();
        assert_eq!(
            pieces.len().unwrap(),
            0,
            "pieces of a deleted bundle remain"
        );
    }

    #[test]
    fn a_docs_items_come_a_page_at_a_time_in_order_reading_only_each_page() {
        let store = Store::in_memory().unwrap();
        let (doc, other) = (DocId([1; 16]), DocId([2; 16]));
        let mut b = Batch::new();
        for i in 0..5u8 {
            b.put_acl(doc, AclId([i; 32]), vec![i; 300]);
        }
        for i in 0..40u8 {
            // Small bundles, and every tenth one split into pieces.
            let len = if i % 10 == 9 { 3 * PIECE + 7 } else { 2_000 };
            b.put_bundle(doc, BundleId([100 + i; 32]), vec![i; len]);
        }
        b.put_bundle(other, BundleId([7; 32]), vec![7; 10]);
        store.commit(b, true).unwrap();
        let skip: BTreeSet<ItemId> = [ItemId([2; 32]), ItemId([105; 32])].into();
        let whole = store.items_except(&doc, &skip).unwrap();
        assert_eq!(whole.len(), 5 + 40 - 2);

        let budget = 10_000;
        let (mut pages, mut from) = (Vec::new(), None);
        loop {
            let (page, next) = store
                .items_page(&doc, &skip, from.as_ref(), budget)
                .unwrap();
            assert!(!page.is_empty());
            let size: usize = page.iter().map(|i| i.bytes().len()).sum();
            assert!(
                size <= budget || page.len() == 1,
                "{size} bytes in {}",
                page.len()
            );
            pages.push(page);
            match next {
                Some(n) => from = Some(n),
                None => break,
            }
        }
        assert!(pages.len() > 5, "{} pages", pages.len());
        assert_eq!(pages.concat(), whole, "every item once, in the same order");
        // A doc with nothing to send still gets its one (empty, last) page.
        let all: BTreeSet<ItemId> = store.item_ids(&doc).unwrap().0.into_iter().collect();
        assert_eq!(
            store.items_page(&doc, &all, None, budget).unwrap(),
            (Vec::new(), None)
        );
    }

    #[test]
    fn garbage_and_truncated_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("garbage.redb");
        std::fs::write(&garbage, vec![0xA5u8; 10_000]).unwrap();
        let err = Store::open(&garbage, false).unwrap_err();
        assert!(matches!(err, StoreError::Damaged { .. }), "{err}");

        let good = dir.path().join("good.redb");
        {
            let store = Store::open(&good, true).unwrap();
            let mut b = Batch::new();
            b.put_bundle(DocId([1; 16]), BundleId([1; 32]), vec![7; 5000]);
            store.commit(b, true).unwrap();
        }
        let bytes = std::fs::read(&good).unwrap();
        for len in [0, 10, 100, 1000, bytes.len() / 2, bytes.len() - 1] {
            let cut = dir.path().join(format!("cut{len}.redb"));
            std::fs::write(&cut, &bytes[..len]).unwrap();
            // Either a clear error or a store that opens: never a panic.
            if let Err(e) = Store::open(&cut, false) {
                assert!(!e.to_string().is_empty());
            }
        }
        assert!(matches!(
            Store::open(&dir.path().join("none.redb"), false),
            Err(StoreError::Missing(_))
        ));
    }
}
