/* git-nearby: one pack being made — git pack-objects run once for a plan,
 * its output written to the pack cache's file (or through memory) and read
 * by every request that wants that pack, while it is made or after. A
 * client that hangs up does not stop the job unless it was the last reader;
 * a job that fails leaves no file. Jobs come from the pack cache
 * (pack-cache.h). */
#pragma once

#include <gio/gio.h>

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

G_END_DECLS
