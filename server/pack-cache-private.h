/* git-nearby: what the pack cache (pack-cache.c) and its jobs (pack-job.c)
 * tell each other. Only these two include it. */
#pragma once

#include "pack-cache.h"

G_BEGIN_DECLS

/* pack-job.c, for the cache. */

/* A job that has its pack whole in @fd, the file at @path. */
NearbyPackJob *nearby_pack_job_new_cached (const char *label, int fd, const char *path,
                                           guint64 size);
/* A job of @cache that will write the pack to @path (a temporary) for the
 * cache to keep at @final_path; it waits for nearby_pack_job_start(). Its
 * producer holds a reference of its own until the job is done, given to
 * the cache's queue meanwhile. */
NearbyPackJob *nearby_pack_job_new (NearbyPackCache *cache, const char *key, const char *label,
                                    const char *gitdir, const char *path, const char *final_path,
                                    GPtrArray *argv, GBytes *input);
/* A slot is free: pack-objects starts (the cache counted it running). */
void nearby_pack_job_start (NearbyPackJob *job);
/* The cache is going: the job works on for its readers, alone. */
void nearby_pack_job_forget_cache (NearbyPackJob *job);

/* pack-cache.c, for its jobs. */

guint nearby_pack_cache_n_running (NearbyPackCache *cache);
/* Out of the jobs being made under @key, if @job is the one: new requests
 * get a new job. */
void nearby_pack_cache_unlist (NearbyPackCache *cache, const char *key, NearbyPackJob *job);
/* A queued job no one waits for any more: out of the queue, and the queue's
 * reference dropped. */
void nearby_pack_cache_dequeue (NearbyPackCache *cache, NearbyPackJob *job);
/* The cache's directory is gone: made again, and its packs forgotten. */
void nearby_pack_cache_make_dir (NearbyPackCache *cache);
/* A job is done: its slot is free (call nearby_pack_cache_start_next() once
 * its readers were told). If @fd holds its whole pack (@size bytes, written
 * at @path), the cache keeps it as an entry; TRUE if the file is now at its
 * final path. */
gboolean nearby_pack_cache_job_done (NearbyPackCache *cache, const char *key, const char *label,
                                     int fd, guint64 size, const char *path);
void nearby_pack_cache_start_next (NearbyPackCache *cache);

G_END_DECLS
