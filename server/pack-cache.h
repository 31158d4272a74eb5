/* git-nearby: producing packs once.
 *
 * git pack-objects' output is a pure function of its argv and stdin (and the
 * repository's immutable objects), so each pack is produced by one job
 * (pack-job.h) that writes it to a file named by the SHA-256 of those; every
 * client asking for it streams from the file, while it is written or later.
 * At most @max_jobs pack-objects run at once, the rest wait in line.
 * Finished packs stay, up to @max_bytes, least recently used first out. */
#pragma once

#include <gio/gio.h>

#include "pack-job.h"
#include "upload-pack.h"

G_BEGIN_DECLS

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
