/* git-nearby: producing packs once.
 *
 * git pack-objects' output is a pure function of its argv and stdin (and the
 * repository's immutable objects), so each pack is produced by one job that
 * writes it to a file named by the SHA-256 of those; every client asking for
 * it streams from the file, while it is written or later. A client that hangs
 * up does not stop the job; a job that fails leaves no file. At most
 * @max_jobs pack-objects run at once, the rest wait in line. Finished packs
 * stay, up to @max_bytes, least recently used first out. */
#pragma once

#include <gio/gio.h>

#include "upload-pack.h"

G_BEGIN_DECLS

#define NEARBY_TYPE_PACK_JOB (nearby_pack_job_get_type ())
G_DECLARE_FINAL_TYPE (NearbyPackJob, nearby_pack_job, NEARBY, PACK_JOB, GObject)

/* Signals: "data" (more of the pack can be read), "progress" (a chunk of
 * pack-objects' stderr: gpointer data, guint length), "finished". */

/* Bytes of the pack made so far. */
guint64 nearby_pack_job_get_size (NearbyPackJob *job);
gboolean nearby_pack_job_is_finished (NearbyPackJob *job);
/* After "finished": whether the pack is whole; if not, why (a reason for
 * the client: it names no path or pid). */
gboolean nearby_pack_job_succeeded (NearbyPackJob *job, const char **reason);

/* A reader of a job's pack, owned by the caller; it reads from the start.
 * Without a cache file the pack goes through a bounded buffer, and the
 * slowest reader sets the pace for all. */
typedef struct
{
  guint64 offset;
} NearbyPackReader;

/* Readers: a job that loses its last reader before it is done stops (and
 * leaves no file); one reader leaving does not stop the others. */
void nearby_pack_job_add_reader (NearbyPackJob *job, NearbyPackReader *reader);
void nearby_pack_job_remove_reader (NearbyPackJob *job, NearbyPackReader *reader);
/* Up to @len bytes at the reader's offset (0 when it has all there is so
 * far), or -1. */
gssize nearby_pack_job_read (NearbyPackJob *job, NearbyPackReader *reader, guint8 *dest, gsize len,
                             GError **error);

/* Whether the job was found done in the cache. */
gboolean nearby_pack_job_was_cached (NearbyPackJob *job);

typedef struct _NearbyPackCache NearbyPackCache;

/* @max_bytes 0 keeps no pack after it was sent. */
NearbyPackCache *nearby_pack_cache_new (const char *dir, guint64 max_bytes, guint max_jobs);
void nearby_pack_cache_free (NearbyPackCache *cache);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NearbyPackCache, nearby_pack_cache_free)

/* The job for @plan's pack in @gitdir: finished (from the cache), running,
 * or new and started or queued. */
NearbyPackJob *nearby_pack_cache_get (NearbyPackCache *cache, const NearbyPackPlan *plan,
                                      const char *gitdir, const char *label);

G_END_DECLS
