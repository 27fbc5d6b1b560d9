/**
 * Every bound of the system in one place. Names carry their unit last. Anything configurable at
 * run time starts from these defaults (see `actors/server/config.ts`).
 * @module
 */

/** Largest WebSocket text message accepted from a user link, in bytes. */
export const USER_FRAME_BYTES_MAX = 64 * 1024;
/** Largest WebSocket text message accepted from a server link, in bytes. */
export const SERVER_FRAME_BYTES_MAX = 256 * 1024;
/** Deepest JSON nesting accepted in a frame. */
export const FRAME_DEPTH_MAX = 16;
/** Longest id (`from`, `to`, `user_id`, ...) accepted, in characters. */
export const ID_LENGTH_MAX = 256;
/** Longest base64 field (a key in PEM form is the largest legitimate value), in characters. */
export const B64_LENGTH_MAX = 8 * 1024;
/** Longest display name, in characters. */
export const DISPLAY_NAME_LENGTH_MAX = 64;
/** Longest ERROR detail we emit or show, in characters. */
export const ERROR_DETAIL_LENGTH_MAX = 512;

/**
 * Shortest passphrase a new keystore may be sealed with, in characters. The sealed key and a
 * password verifier are uploaded to the server, where a short passphrase falls to an offline
 * guess; both clients refuse shorter ones.
 */
export const PASSPHRASE_LENGTH_MIN = 8;

/** RSA modulus size every key must have, in bits. */
export const RSA_BITS = 4096;
/** The only public exponent we accept. */
export const RSA_EXPONENT = 65537;
/** Largest OAEP-SHA256 plaintext for RSA-4096: k - 2*hLen - 2. */
export const OAEP_PLAINTEXT_BYTES_MAX = 446;
/** PSS salt we sign with (digest length); verifiers also accept {@linkcode PSS_SALT_MAX_BYTES}. */
export const PSS_SALT_BYTES = 32;
/** PSS.MAX_LENGTH for RSA-4096 with SHA-256: 512 - 32 - 2. */
export const PSS_SALT_MAX_BYTES = 478;

/** Frames a Router mailbox may hold before new input is refused. */
export const ROUTER_MAILBOX_MAX = 10_000;
/**
 * Frames a link outbox may hold before the link is cut off as a slow consumer. Legitimate
 * bursts are large (a hello in a big network gets one USER_ADVERTISE per user; a returning user
 * gets up to OFFLINE_QUEUE_MESSAGES_MAX queued messages), so the count is generous and the
 * socket's unsent bytes are bounded separately (see outbox.ts).
 */
export const LINK_OUTBOX_MAX = 20_000;
/** Unsent bytes a link's socket may hold; later frames wait in the outbox, in order. */
export const OUTBOX_SOCKET_HIGH_WATER_BYTES = 256 * 1024;
/**
 * Unsent bytes (socket and outbox) before the link is cut off as a slow consumer: room for a
 * hello's USER_ADVERTISE replay (~2.3 KB per known user) on a server of ~10 000 users.
 */
export const OUTBOX_BYTES_MAX = 32 * 1024 * 1024;
/** Imported user keys kept for verifying signed user frames (`actors/links/key_cache.ts`). */
export const USER_KEYS_CACHED_MAX = 1_024;
/** Users one server hosts at once. */
export const LOCAL_USERS_MAX = 10_000;
/** How often `serve` gives freed C heap back to the system (`actors/server/memory_trim.ts`). */
export const MEMORY_TRIM_INTERVAL_MS = 60_000;
/** Users the whole directory may know. */
export const KNOWN_USERS_MAX = 100_000;
/**
 * Deliveries one coalesced ACK between our servers acknowledges (`actors/links/ack_batch.ts`):
 * 256 references of ~150 bytes stay far below SERVER_FRAME_BYTES_MAX.
 */
export const ACK_REFS_MAX = 256;
/**
 * How long a delivery ACK between our servers waits for others to join it before it is signed.
 * An ACK only lets the sender retire its copy, so nobody waits on it; held this long, a busy
 * link pays one signature a second for its ACKs, however many deliveries they cover (up to
 * ACK_REFS_MAX): at 300 cross-server DMs/s over 3 servers, 200 ms made ACKs 4.4 % of the
 * signatures, against 10 % when ACKs only joined while waiting for the signer.
 */
export const ACK_WINDOW_MS = 1_000;
/** Private-key operations in flight at once (PLATFORM.md: 2-4 saturate two cores). */
export const CRYPTO_PRIVATE_OPS_IN_FLIGHT_MAX = 4;
/**
 * Signatures worth giving one signing thread at once (`crypto/sign_pool.ts`): enough that its
 * ring outlasts a commit or a collection on the JS thread (8 measured 4 % more local DMs/s than
 * 4, about 7 ms of RSA-4096 work here), few enough that a quiet user's frame waits behind about
 * 14 ms of signatures at most.
 */
export const SIGN_THREAD_JOBS_MAX = 8;
/**
 * Jobs left in its ring at or below which a signing thread wakes the waiting pool after a
 * signature. With more left, the thread signs on, and the pool, woken later, takes the finished
 * ones together: at full load one wake-up of the JS thread per several signatures, not one each
 * (a fifth less JS-thread time per local DM, about 4 % more DMs/s). A lone or last job still
 * wakes the pool at once.
 */
export const SIGN_WAKE_JOBS_LEFT = 1;
/**
 * Signatures a thread finishes, unseen by a waiting pool, before it wakes the pool whatever is
 * left: a finished one waits for at most this many less one more (about 5 ms here), also when
 * a pause of the JS thread has filled the ring. Waiting for the whole ring instead measured 1 %
 * more DMs/s and up to 12 ms more for a delivery.
 */
export const SIGN_WAKE_AFTER = SIGN_THREAD_JOBS_MAX / 2;
/**
 * Slots in the ring a signing thread shares with the pool (`crypto/sign_ring.ts`), a power of
 * two: room for twice what the thread is given, so a burst beyond it rarely waits outside.
 */
export const SIGN_THREAD_SLOTS = 2 * SIGN_THREAD_JOBS_MAX;
/**
 * Milliseconds a signing thread waits for a key it was asked to sign with: the key's message
 * was posted before the job, so it only lags behind it in the thread's event loop.
 */
export const SIGN_KEY_WAIT_MS = 1_000;
/**
 * Signatures kept for reuse when the same payload goes to many links. Large enough to hold one
 * USER_ADVERTISE per user of a big server: every newcomer is sent all of them, and re-signing
 * them per hello would make joins quadratic in RSA work.
 */
export const SIGNATURE_CACHE_MAX = 16_384;

/** Milliseconds a new connection has to send its first frame. */
export const HELLO_TIMEOUT_MS = 10_000;
/** Inbound journal rows kept; older rows are deleted. */
export const JOURNAL_ROWS_MAX = 200_000;
/** Rows written per group commit at most. */
export const COMMIT_BATCH_MAX = 1_000;
/**
 * Milliseconds between the checkpointing thread's looks at the WAL (`store/checkpointer.ts`):
 * at a thousand DMs a second, a second of WAL is about 600 pages to copy.
 */
export const CHECKPOINT_INTERVAL_MS = 1_000;
/**
 * WAL pages past which the writer checkpoints on its own thread after all (SQLite's default is
 * 1 000): a backstop for a checkpointing thread that fell behind or failed, about 16 MB.
 */
export const WAL_BACKSTOP_PAGES = 4_000;
/** Milliseconds closing the store waits for a checkpoint in progress on its thread. */
export const CHECKPOINT_STOP_WAIT_MS = 2_000;
/** Events read per query when folding the log (a few MB of JSON text at most). */
export const READ_CHUNK_EVENTS = 2_000;
/**
 * Chunks a reading thread may have read ahead of the fold (`store/read_ahead.ts`): two keep it
 * busy while the fold parses one, and bound what waits in memory to a few MB.
 */
export const READ_AHEAD_CHUNKS = 2;
/** Events below which a log is folded without a reading thread (starting one costs ~50 ms). */
export const READ_AHEAD_MIN_EVENTS = 50_000;
/** Frames a link may have waiting for parse and verification. */
export const LINK_INBOX_MAX = 256;
/** Refused frames after which a link is closed. */
export const LINK_BAD_FRAMES_MAX = 20;
/**
 * How long a closing link waits for its socket to send what it holds (the last ERRORs) before
 * the close frame goes: a closing Deno server socket drops unsent frames at the peer's next
 * data frame, so a flooding peer would otherwise never read why it was closed.
 */
export const LINK_CLOSE_LINGER_MS = 2_000;

/**
 * Seconds after which Deno pings a quiet peer on a socket it accepted, and closes it if no pong
 * came (it pings at half). Deno answers a peer's pings itself and shows us neither pings nor
 * pongs, so this is the liveness check for inbound links of peers that send no HEARTBEAT.
 */
export const SOCKET_IDLE_TIMEOUT_S = 60;
/** How often a HEARTBEAT goes to every linked server (§3.4). */
export const HEARTBEAT_INTERVAL_MS = 15_000;
/** Silence after which a server link is dead (§3.4). */
export const LINK_TIMEOUT_MS = 45_000;
/** First reconnect delay to a lost server; doubles per failure, with jitter. */
export const RECONNECT_BACKOFF_BASE_MS = 1_000;
/** Longest reconnect delay. */
export const RECONNECT_BACKOFF_MAX_MS = 60_000;
/**
 * How long a pinned server that never linked since this start is retried before it is forgotten
 * (a peer that joined once and never became reachable). It is dialled again when it links to us
 * or is announced at another address.
 */
export const PEER_NEVER_LINKED_FORGET_MS = 60 * 60_000;
/** Milliseconds to wait for a WebSocket connection or an answer during join and link. */
export const DIAL_TIMEOUT_MS = 5_000;
/** Entries in `seen_ids` at most (§15 P13). */
export const SEEN_IDS_MAX = 100_000;
/** How long a seen id is remembered; older or further-future `ts` is dropped as stale (§15 P13). */
export const SEEN_WINDOW_MS = 10 * 60_000;
/** Servers a network may hold. */
export const SERVERS_MAX = 1_000;
/**
 * Buckets of a GOSSIP_DIGEST (per origin: the users it hosts; and the public channel's members):
 * a heal re-sends only the buckets whose count or hash differs, and a digest stays a few KiB.
 */
export const GOSSIP_DIGEST_BUCKETS = 16;
/** Members per PUBLIC_CHANNEL_ADD that answers a GOSSIP_REQUEST (the frame schema allows 1 000). */
export const GOSSIP_MEMBERS_PER_FRAME = 500;
/**
 * Claims of unlinked servers kept, checked against the server's digest when its link comes back
 * (past this bound they are forgotten, and the digest just finds more buckets to re-send).
 */
export const DORMANT_CLAIMS_MAX = 100_000;
/** Wraps per PUBLIC_CHANNEL_UPDATED frame, so a large channel never exceeds the frame limit. */
export const PUBLIC_CHANNEL_WRAPS_PER_FRAME = 100;
/** Shares per PUBLIC_CHANNEL_KEY_SHARE frame: one content signature covers this many members. */
export const PUBLIC_CHANNEL_SHARES_PER_FRAME = 64;
/** Milliseconds to gather joins into one public-channel rekey (each rekey wraps for every member). */
export const PUBLIC_CHANNEL_REKEY_DELAY_MS = 250;
/**
 * Extra rekey delay per member, so the time spent wrapping keys (one RSA encryption per member)
 * stays a small share of the time between rekeys as the channel grows.
 */
export const PUBLIC_CHANNEL_REKEY_DELAY_MS_PER_MEMBER = 0.5;
/** Largest file a client accepts, in bytes. */
export const FILE_BYTES_MAX = 64 * 1024 * 1024;
/** Milliseconds without a chunk after which a transfer counts as stalled. */
export const FILE_STALL_MS = 30_000;
/** Plaintext bytes per FILE_CHUNK we send (≤ 446, one OAEP block; 400 is the common choice). */
export const FILE_CHUNK_BYTES = 446;
/**
 * Chunks a sender sends before waiting for the server to catch up (a LIST round trip); the
 * receiver asks a receipt for each window's last chunk, which is the sender's progress.
 */
export const FILE_WINDOW_CHUNKS = 64;
/** Window ends of files being sent that a client follows for receipts (the oldest dropped). */
export const FILE_RECEIPT_MARKS_MAX = 1_024;
/** Server-link outbox depth above which users' content waits before it is routed (backpressure). */
export const OUTBOX_HIGH_WATER = 200;
/** Longest a user's content waits for congestion to clear before it is routed anyway. */
export const CONGESTION_WAIT_MS_MAX = 30_000;
/** Wrong passwords one connection may try before it is closed (no account is ever locked). */
export const LOGIN_ATTEMPTS_PER_LINK_MAX = 3;
/** Largest encrypted key blob a user may store for password login, in characters. */
export const PRIVKEY_STORE_LENGTH_MAX = 16 * 1024;

// Rate and connection limits (configurable under `limits:` in the YAML file)
/**
 * Frames per second a user link may send, sustained. A file transfer sends 64-chunk windows of
 * ~900-byte frames and waits for a round trip after each; with RSA-4096 it reaches 100-300
 * chunks/s, so this leaves room above it.
 */
export const USER_FRAMES_PER_S = 400;
/** Bytes per second a user link may send, sustained (measured as UTF-16 code units of the text). */
export const USER_BYTES_PER_S = 1024 * 1024;
/** Frames per second a server link may send, sustained (it carries all of a peer's users). */
export const SERVER_FRAMES_PER_S = 2_000;
/** Bytes per second a server link may send, sustained. */
export const SERVER_BYTES_PER_S = 8 * 1024 * 1024;
/**
 * Seconds of the sustained rate a link may send at once: the token buckets hold this many
 * seconds' worth, so a 64-chunk window (or a hello's burst of advertises) always passes.
 */
export const RATE_BURST_S = 2;
/**
 * Frames a link may have waiting (for its rate, or for verification) before further frames are
 * refused with ERROR TIMEOUT; a file transfer's window (64 chunks) and its sync fit with room.
 */
export const LINK_WAITING_FRAMES_MAX = 128;
/**
 * Signatures queued for one origin (a user's deliveries, or the answers to it) before that
 * user's link waits to handle its next frame: enough to keep the signer busy for one sender,
 * small enough that a flooder's backlog stays its own (`actors/links/fair_signer.ts`).
 */
export const ORIGIN_SEALS_MAX = 64;
/** Open WebSocket connections from one remote address; more are answered HTTP 429. */
export const CONNECTIONS_PER_IP_MAX = 128;

// Reliable delivery
/** Messages kept for one offline user. */
export const OFFLINE_QUEUE_MESSAGES_MAX = 1_000;
/** Bytes kept for one offline user. */
export const OFFLINE_QUEUE_BYTES_MAX = 8 * 1024 * 1024;
/** How long a message waits for an offline user before it expires. */
export const OFFLINE_QUEUE_AGE_MS_MAX = 7 * 24 * 3_600_000;
/** Frames kept for one unreachable (or not yet acknowledging) server. */
export const SERVER_OUTBOX_MESSAGES_MAX = 10_000;
/** Successful transport-signature checks remembered (gossip arrives over several links). */
export const VERIFY_CACHE_MAX = 4_096;

// Client dialects
/**
 * Quiet period after USER_HELLO: the spec defines no success reply and several servers send
 * none, so an open socket without an ERROR for this long counts as connected.
 */
export const HELLO_QUIET_MS = 1_000;
/**
 * Bytes of an `AUTH_CHALLENGE {challenge}` the user key will sign: at least 128 bits of
 * server randomness, and short enough never to be the preimage of a content signature
 * (layout B starts with a 512-byte ciphertext).
 */
export const AUTH_CHALLENGE_BYTES_MIN = 16;
/** See {@linkcode AUTH_CHALLENGE_BYTES_MIN}. */
export const AUTH_CHALLENGE_BYTES_MAX = 256;
/** Own sent messages whose delivery state the terminal transcript follows (oldest forgotten first). */
export const CLIENT_SENT_TRACKED_MAX = 1_000;
/** Peers whose DM layout a client remembers (least recently used forgotten first). */
export const PEER_LAYOUTS_MAX = 10_000;
/** Challenges a client remembers having signed, to refuse a replayed one. */
export const AUTH_CHALLENGES_REMEMBERED_MAX = 1_024;

// Run-time limits
/** Limits a server enforces (YAML `limits:`); defaults from the constants above. */
export interface Limits {
  user_frames_per_s: number;
  user_bytes_per_s: number;
  server_frames_per_s: number;
  server_bytes_per_s: number;
  /** Seconds of the sustained rate a link may send at once (bucket size). */
  burst_s: number;
  connections_per_ip: number;
  users_max: number;
  user_frame_bytes_max: number;
  server_frame_bytes_max: number;
}

/** The defaults of {@linkcode Limits}. */
export const DEFAULT_LIMITS: Readonly<Limits> = {
  user_frames_per_s: USER_FRAMES_PER_S,
  user_bytes_per_s: USER_BYTES_PER_S,
  server_frames_per_s: SERVER_FRAMES_PER_S,
  server_bytes_per_s: SERVER_BYTES_PER_S,
  burst_s: RATE_BURST_S,
  connections_per_ip: CONNECTIONS_PER_IP_MAX,
  users_max: LOCAL_USERS_MAX,
  user_frame_bytes_max: USER_FRAME_BYTES_MAX,
  server_frame_bytes_max: SERVER_FRAME_BYTES_MAX,
};

// Clients
/** Parts one long message may be split into when sent (about 27 KB of text). */
export const MESSAGE_PARTS_MAX = 64;
/** Long messages a client is reassembling at once; the oldest is shown with its gaps when full. */
export const REASSEMBLY_OPEN_MAX = 32;
/** How long a client waits for the missing parts of a long message before showing its gaps. */
export const REASSEMBLY_WAIT_MS = 30_000;
/** Received messages a client remembers having shown (a re-sent copy is confirmed, not shown). */
export const SEEN_REFS_MAX = 10_000;
/** Sent messages whose delivery state a client follows (the oldest forgotten first). */
export const SENT_TRACKED_MAX = 1_024;
/** Messages kept per conversation in a client's encrypted local history (the oldest dropped). */
export const HISTORY_PER_CONVERSATION_MAX = 1_000;
/** Conversations in a client's local history (the least recently used dropped). */
export const HISTORY_CONVERSATIONS_MAX = 256;
/** Characters of message text in a client's local history (the oldest messages dropped). */
export const HISTORY_TEXT_MAX = 4 * 1024 * 1024;
/** First reconnect delay of a client; doubles per failure, with jitter. */
export const RECONNECT_BASE_MS = 1_000;
/** Longest reconnect delay of a client. */
export const RECONNECT_MAX_MS = 30_000;
/** Names a client remembers for users it has seen (labels of offline users). */
export const KNOWN_LABELS_MAX = 10_000;
