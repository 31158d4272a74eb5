/* git-nearby: the pack cache — finished packs on disk by key (the SHA-256
 * of what pack-objects is given), checked before use, least recently used
 * first out; and the line of jobs (pack-job.c) waiting for one of
 * @max_jobs slots. */
#include "pack-cache.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pack-cache-private.h"

struct _NearbyPackCache
{
  char *dir;
  guint64 max_bytes;
  guint max_jobs;
  guint running;
  GQueue queue;        /* NearbyPackJob waiting for a slot (ref held) */
  GHashTable *active;  /* key -> NearbyPackJob being produced (unowned) */
  GHashTable *entries; /* key -> Entry of a finished pack on disk */
  guint64 total;
  guint serial;
  char *tmp_tag; /* "<pid>-<random>": this process's temporaries */
};

/* A finished pack on disk. Its content is checked in full (header and
 * trailer, see verify_pack) once: at its first use after a start, since it
 * may have been damaged while no one looked (or cut short by a crash: it
 * is not fsync'ed); a pack this process wrote itself is trusted. After
 * that a hit only compares the file's identity (device, inode, size,
 * mtime, ctime) with the one recorded: any write to the file, truncation
 * or replacement changes the ctime, which no one can set back. Hashing on every hit would cost more than sending: on
 * a 30 MB pack the check takes 50-70 ms of CPU, while sending it from the
 * cache costs the server 10-20 ms. */
typedef struct
{
  guint64 size;
  gint64 used; /* monotonic µs of the last use */
  gboolean verified;
  dev_t dev;
  ino_t ino;
  struct timespec mtime, ctime;
} Entry;

static void
evict (NearbyPackCache *cache, guint64 room)
{
  while (cache->total + room > cache->max_bytes && g_hash_table_size (cache->entries) > 0)
    {
      GHashTableIter iter;
      gpointer key, value;
      const char *oldest = NULL;
      gint64 oldest_used = G_MAXINT64;
      g_autofree char *path = NULL;
      Entry *entry;

      g_hash_table_iter_init (&iter, cache->entries);
      while (g_hash_table_iter_next (&iter, &key, &value))
        if (((Entry *) value)->used < oldest_used)
          {
            oldest = key;
            oldest_used = ((Entry *) value)->used;
          }
      entry = g_hash_table_lookup (cache->entries, oldest);
      path = g_strdup_printf ("%s/%s.pack", cache->dir, oldest);
      /* Readers that have it open keep reading: unlinking is safe. */
      g_unlink (path);
      cache->total -= entry->size;
      g_debug ("pack cache: evicted %s (%" G_GUINT64_FORMAT " bytes)", oldest, entry->size);
      g_hash_table_remove (cache->entries, oldest);
    }
}

/* Whether the @size bytes in @fd are a whole pack: "PACK", version 2 or 3,
 * and a trailer that is the hash of everything before it (SHA-1, or SHA-256
 * in a repository of that format). */
static gboolean
verify_pack (int fd, guint64 size, const char **why)
{
  g_autoptr (GChecksum) sha1 = g_checksum_new (G_CHECKSUM_SHA1);
  g_autofree guint8 *buf = g_malloc (1 << 20);
  guint8 head[12], tail[32], digest[32];
  gsize digest_len = 20;
  guint32 version;

  *why = "shorter than a pack";
  if (size < 12 + 20 || pread (fd, head, 12, 0) != 12)
    return FALSE;
  memcpy (&version, head + 4, 4);
  version = GUINT32_FROM_BE (version);
  *why = "no pack header";
  if (memcmp (head, "PACK", 4) != 0 || (version != 2 && version != 3))
    return FALSE;
  for (int pass = 0; pass < 2; pass++)
    {
      gsize hash_len = pass == 0 ? 20 : 32;
      g_autoptr (GChecksum) sum
          = pass == 0 ? g_steal_pointer (&sha1) : g_checksum_new (G_CHECKSUM_SHA256);
      guint64 end = size - hash_len;

      if (size < 12 + hash_len)
        break;
      for (guint64 at = 0; at < end;)
        {
          gssize n = pread (fd, buf, MIN ((guint64) 1 << 20, end - at), at);

          if (n < 0 && errno == EINTR)
            continue;
          *why = "unreadable";
          if (n <= 0)
            return FALSE;
          g_checksum_update (sum, buf, n);
          at += n;
        }
      digest_len = hash_len;
      g_checksum_get_digest (sum, digest, &digest_len);
      if (pread (fd, tail, hash_len, end) == (gssize) hash_len
          && memcmp (tail, digest, hash_len) == 0)
        return TRUE;
    }
  *why = "its trailer is not the hash of its content";
  return FALSE;
}

static void
entry_set_identity (Entry *entry, const struct stat *st)
{
  entry->size = st->st_size;
  entry->dev = st->st_dev;
  entry->ino = st->st_ino;
  entry->mtime = st->st_mtim;
  entry->ctime = st->st_ctim;
}

static gboolean
entry_same_identity (const Entry *entry, const struct stat *st)
{
  return entry->size == (guint64) st->st_size && entry->dev == st->st_dev
         && entry->ino == st->st_ino && entry->mtime.tv_sec == st->st_mtim.tv_sec
         && entry->mtime.tv_nsec == st->st_mtim.tv_nsec && entry->ctime.tv_sec == st->st_ctim.tv_sec
         && entry->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

/* A temporary whose writer is gone: writers hold an exclusive flock on
 * theirs as long as they write (pids are reused; locks die with their
 * holder). Unlinking one a writer has just made and not yet locked does no
 * harm either: its readers read the writer's descriptor, and only its
 * entry is lost. */
static gboolean
temporary_is_abandoned (const char *path)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  gboolean abandoned;

  if (fd < 0)
    return FALSE;
  abandoned = flock (fd, LOCK_EX | LOCK_NB) == 0;
  close (fd);
  return abandoned;
}

/* Packs left by an earlier run are good once checked (at first use);
 * half-written ones are not, unless another live server is writing them. */
static void
load_index (NearbyPackCache *cache)
{
  g_autoptr (GDir) dir = g_dir_open (cache->dir, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (cache->dir, name, NULL);
      struct stat st;

      if (strstr (name, ".tmp") != NULL)
        {
          if (temporary_is_abandoned (path))
            {
              g_debug ("pack cache: removing the abandoned %s", name);
              g_unlink (path);
            }
          continue;
        }
      if (!g_str_has_suffix (name, ".pack") || strlen (name) != 64 + 5 || stat (path, &st) != 0
          || !S_ISREG (st.st_mode))
        continue;
      {
        Entry *entry = g_new0 (Entry, 1);

        entry_set_identity (entry, &st);
        entry->used
            = (gint64) st.st_mtime * G_USEC_PER_SEC - g_get_real_time () + g_get_monotonic_time ();
        g_hash_table_insert (cache->entries, g_strndup (name, 64), entry);
        cache->total += entry->size;
      }
    }
  evict (cache, 0);
}

static void
forget_missing (NearbyPackCache *cache)
{
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, cache->entries);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      g_autofree char *path = g_strdup_printf ("%s/%s.pack", cache->dir, (char *) key);

      if (!g_file_test (path, G_FILE_TEST_EXISTS))
        {
          cache->total -= ((Entry *) value)->size;
          g_hash_table_iter_remove (&iter);
        }
    }
}

NearbyPackCache *
nearby_pack_cache_new (const char *dir, guint64 max_bytes, guint max_jobs)
{
  NearbyPackCache *cache = g_new0 (NearbyPackCache, 1);

  cache->dir = g_strdup (dir);
  cache->max_bytes = max_bytes;
  cache->max_jobs = MAX (max_jobs, 1);
  cache->tmp_tag = g_strdup_printf ("%d-%08x", (int) getpid (), g_random_int ());
  cache->active = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  cache->entries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_queue_init (&cache->queue);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    g_warning ("cannot make the pack directory %s: %s", dir, g_strerror (errno));
  load_index (cache);
  return cache;
}

void
nearby_pack_cache_free (NearbyPackCache *cache)
{
  GHashTableIter iter;
  gpointer value;

  if (cache == NULL)
    return;
  /* Jobs outlive the cache only as far as their readers need them. */
  g_hash_table_iter_init (&iter, cache->active);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    nearby_pack_job_forget_cache (value);
  while (!g_queue_is_empty (&cache->queue))
    {
      NearbyPackJob *job = g_queue_pop_head (&cache->queue);

      nearby_pack_job_forget_cache (job);
      g_object_unref (job);
    }
  g_hash_table_unref (cache->active);
  g_hash_table_unref (cache->entries);
  g_free (cache->dir);
  g_free (cache->tmp_tag);
  g_free (cache);
}

/* The key: the repository, the command (less what only changes stderr) and
 * the input. */
static char *
pack_key (const NearbyPackPlan *plan, const char *gitdir)
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);

  g_checksum_update (sum, (const guchar *) gitdir, strlen (gitdir) + 1);
  for (guint i = 0; i < plan->argv->len && plan->argv->pdata[i] != NULL; i++)
    {
      const char *arg = plan->argv->pdata[i];

      if (strcmp (arg, "--progress") == 0 || strcmp (arg, "-q") == 0)
        continue;
      g_checksum_update (sum, (const guchar *) arg, strlen (arg) + 1);
    }
  g_checksum_update (sum, (const guchar *) "", 1);
  g_checksum_update (sum, (const guchar *) plan->input->str, plan->input->len);
  return g_strdup (g_checksum_get_string (sum));
}

/* The finished pack in @fd (@size bytes, at @path) becomes an entry, if it
 * is whole (@fd >= 0), on disk and fits; TRUE if it was renamed to its
 * final path. */
static gboolean
keep (NearbyPackCache *cache, const char *key, const char *label, int fd, guint64 size,
      const char *path)
{
  g_autofree char *final_path = g_strdup_printf ("%s/%s.pack", cache->dir, key);
  struct stat st;
  Entry *entry;

  if (fd < 0 || cache->max_bytes == 0 || size > cache->max_bytes)
    return FALSE;
  /* No fsync: it would hold the main loop (every client) for as long as
   * the disk takes to write the pack. What a crash leaves short or damaged
   * is found at its first use after the start, which checks every pack it
   * did not write itself. */
  evict (cache, size);
  if (g_rename (path, final_path) != 0)
    {
      /* E.g. a second server removed it: the readers have our descriptor. */
      g_message ("%s: not keeping the pack: %s", label, g_strerror (errno));
      return FALSE;
    }
  /* After the rename, which changes the ctime. */
  if (fstat (fd, &st) != 0 || (guint64) st.st_size != size)
    {
      g_unlink (final_path); /* no entry would account for it */
      return TRUE;
    }
  entry = g_new0 (Entry, 1);
  entry_set_identity (entry, &st);
  entry->verified = TRUE;
  entry->used = g_get_monotonic_time ();
  if (g_hash_table_contains (cache->entries, key))
    cache->total -= ((Entry *) g_hash_table_lookup (cache->entries, key))->size;
  g_hash_table_replace (cache->entries, g_strdup (key), entry);
  cache->total += entry->size;
  return TRUE;
}

/* ---- what the jobs tell ---- */

guint
nearby_pack_cache_n_running (NearbyPackCache *cache)
{
  return cache->running;
}

void
nearby_pack_cache_unlist (NearbyPackCache *cache, const char *key, NearbyPackJob *job)
{
  if (g_hash_table_lookup (cache->active, key) == job)
    g_hash_table_remove (cache->active, key);
}

void
nearby_pack_cache_dequeue (NearbyPackCache *cache, NearbyPackJob *job)
{
  if (g_queue_remove (&cache->queue, job))
    g_object_unref (job);
}

void
nearby_pack_cache_make_dir (NearbyPackCache *cache)
{
  g_mkdir_with_parents (cache->dir, 0700);
  forget_missing (cache);
}

gboolean
nearby_pack_cache_job_done (NearbyPackCache *cache, const char *key, const char *label, int fd,
                            guint64 size, const char *path)
{
  cache->running--;
  return keep (cache, key, label, fd, size, path);
}

void
nearby_pack_cache_start_next (NearbyPackCache *cache)
{
  while (cache->running < cache->max_jobs && !g_queue_is_empty (&cache->queue))
    {
      NearbyPackJob *job = g_queue_pop_head (&cache->queue); /* its reference goes on */

      cache->running++;
      nearby_pack_job_start (job);
    }
}

NearbyPackJob *
nearby_pack_cache_get (NearbyPackCache *cache, const NearbyPackPlan *plan, const char *gitdir,
                       const char *label)
{
  g_autofree char *key = pack_key (plan, gitdir);
  g_autofree char *final_path = g_strdup_printf ("%s/%s.pack", cache->dir, key);
  g_autofree char *path = NULL;
  g_autoptr (GBytes) input = NULL;
  NearbyPackJob *job = g_hash_table_lookup (cache->active, key);
  Entry *entry;

  if (job != NULL)
    {
      g_debug ("%s: sharing the pack being made for an identical request", label);
      return g_object_ref (job);
    }

  entry = g_hash_table_lookup (cache->entries, key);
  if (entry != NULL)
    {
      int fd = open (final_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
      struct stat st = { 0 };
      const char *why = "gone";
      gboolean good = FALSE;

      if (fd >= 0 && fstat (fd, &st) == 0 && S_ISREG (st.st_mode))
        {
          good = entry->verified && entry_same_identity (entry, &st);
          if (!good)
            {
              gint64 t0 = g_get_monotonic_time ();

              good = verify_pack (fd, st.st_size, &why);
              g_debug ("%s: checked the cached pack (%" G_GUINT64_FORMAT " bytes) in %.1f ms",
                       label, (guint64) st.st_size, (g_get_monotonic_time () - t0) / 1000.0);
            }
        }
      if (good)
        {
          cache->total += st.st_size - entry->size;
          entry_set_identity (entry, &st);
          entry->verified = TRUE;
          entry->used = g_get_monotonic_time ();
          g_debug ("%s: pack from the cache", label);
          return nearby_pack_job_new_cached (label, fd, final_path, entry->size);
        }
      if (fd >= 0)
        {
          struct stat now;

          g_warning ("%s: dropping a bad pack from the cache (%s)", label, why);
          /* Only the file we checked, not one just put in its place. */
          if (stat (final_path, &now) == 0 && now.st_ino == st.st_ino && now.st_dev == st.st_dev)
            g_unlink (final_path);
          close (fd);
        }
      cache->total -= entry->size;
      g_hash_table_remove (cache->entries, key);
    }

  path = g_strdup_printf ("%s/%s.pack.tmp-%s-%u", cache->dir, key, cache->tmp_tag, ++cache->serial);
  input = g_bytes_new (plan->input->str, plan->input->len);
  job = nearby_pack_job_new (cache, key, label, gitdir, path, final_path, plan->argv, input);
  g_hash_table_insert (cache->active, g_steal_pointer (&key), job);

  /* The producer holds a reference until it finishes. */
  g_queue_push_tail (&cache->queue, g_object_ref (job));
  if (cache->running >= cache->max_jobs)
    g_message ("%s: %u pack-objects running; waiting for a turn", label, cache->running);
  nearby_pack_cache_start_next (cache);
  return job;
}
