//! S2's memory objects (`/memory`): a memory, a search's hits, a page, the stats, a delete and a
//! prune. S0's add and search answer the same objects (with S0's `memoryId` and `createdAt`).

use chrono::{DateTime, Utc};
use openclaw_engine::memory::{memory_wire_id, Found};
use openclaw_store::{MemoryRecord, MemoryStats};
use serde::Serialize;

/// A memory, under both prefixes (S0's answers read the same object); a search adds its `score`.
#[derive(Debug, Serialize)]
pub struct Memory<'a> {
    pub id: String,
    pub object: &'static str,
    pub content: &'a str,
    pub tags: &'a [String],
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub tier: &'a str,
    pub source: &'a str,
    pub conversation_id: Option<&'a str>,
    pub compacted_from: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl<'a> Memory<'a> {
    pub fn of(m: &'a MemoryRecord) -> Self {
        Memory {
            id: memory_wire_id(m.id),
            object: "memory",
            content: &m.content,
            tags: &m.tags,
            kind: &m.kind,
            tier: &m.tier,
            source: &m.source,
            conversation_id: m.session_key.as_deref(),
            compacted_from: m.compacted_from,
            created_at: m.created_at,
            updated_at: m.updated_at,
            expires_at: m.expires_at,
        }
    }
}

/// `POST /memory`'s answer: the memory with S0's `memoryId` and `createdAt` beside S2's fields.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryAdded<'a> {
    #[serde(flatten)]
    pub memory: Memory<'a>,
    pub memory_id: String,
    pub created_at: DateTime<Utc>,
}

impl<'a> MemoryAdded<'a> {
    pub fn of(m: &'a MemoryRecord) -> Self {
        MemoryAdded {
            memory: Memory::of(m),
            memory_id: memory_wire_id(m.id),
            created_at: m.created_at,
        }
    }
}

/// A search's hit.
#[derive(Debug, Serialize)]
pub struct MemoryFound<'a> {
    #[serde(flatten)]
    pub memory: Memory<'a>,
    pub score: f64,
}

impl<'a> MemoryFound<'a> {
    pub fn of(f: &'a Found) -> Self {
        MemoryFound {
            memory: Memory::of(&f.memory),
            // Four decimals: enough to order by, without float noise on the wire.
            score: (f64::from(f.score) * 10_000.0).round() / 10_000.0,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct MemoryResults<'a> {
    pub results: Vec<MemoryFound<'a>>,
}

#[derive(Debug, Serialize)]
pub struct Memories<'a> {
    pub memories: Vec<Memory<'a>>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// Bytes as MB with three decimals, as S2's stats show sizes.
pub fn mb(bytes: i64) -> f64 {
    (bytes as f64 / (1024.0 * 1024.0) * 1000.0).round() / 1000.0
}

#[derive(Debug, Serialize)]
pub struct WalStats {
    pub entries: i64,
    pub size_mb: f64,
    pub size_bytes: i64,
    pub oldest_entry: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize)]
pub struct CompactedStats {
    pub files: i64,
    pub size_mb: f64,
    pub size_bytes: i64,
    pub last_compaction: Option<DateTime<Utc>>,
}

/// `GET /memory/stats`.
#[derive(Debug, Serialize)]
pub struct MemoryStatsView {
    pub wal: WalStats,
    pub compacted: CompactedStats,
    pub total_entries: i64,
    pub total_size_mb: f64,
    pub limit: u64,
}

impl MemoryStatsView {
    pub fn of(s: &MemoryStats, limit: u64) -> Self {
        MemoryStatsView {
            wal: WalStats {
                entries: s.wal_entries,
                size_mb: mb(s.wal_bytes),
                size_bytes: s.wal_bytes,
                oldest_entry: s.wal_oldest,
            },
            compacted: CompactedStats {
                files: s.compacted_entries,
                size_mb: mb(s.compacted_bytes),
                size_bytes: s.compacted_bytes,
                last_compaction: s.last_compaction,
            },
            total_entries: s.wal_entries + s.compacted_entries,
            total_size_mb: mb(s.wal_bytes + s.compacted_bytes),
            limit,
        }
    }
}

/// What deleting or pruning answers.
#[derive(Debug, Serialize)]
pub struct MemoryDeleted {
    pub id: String,
    pub deleted: bool,
}

#[derive(Debug, Serialize)]
pub struct Pruned {
    pub deleted: i64,
}
