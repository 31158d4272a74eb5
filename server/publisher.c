#include "publisher.h"

#include <avahi-client/client.h>
#include <avahi-client/publish.h>
#include <avahi-common/alternative.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/strlst.h>
#include <avahi-glib/glib-malloc.h>
#include <avahi-glib/glib-watch.h>
#include <string.h>

#include "branch-jobs.h"
#include "git-util.h"
#include "name.h"
#include "repo-watch.h"
#include "txt-record.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AvahiStringList, avahi_string_list_free)

#define RECONNECT_MS 1000
#define MAX_RECONNECT_MS 30000
/* avahi-daemon allows each client 1,024 objects (entry groups, browsers,
 * resolvers: its objects-per-client-max). One group per branch (DESIGN §5),
 * so at most this many branches are announced, the first by name; the rest
 * are served all the same. */
#define MAX_ANNOUNCED 900

typedef struct
{
  NearbyPublisher *publisher;
  char *name;
  char *instance; /* NULL until the host name is known */
  GStrv txt;
  git_oid tip; /* what @txt says, to notice a move cheaply */
  gboolean unborn;
  AvahiEntryGroup *group;
  gboolean registered; /* the group holds our service */
} Entry;

struct _NearbyPublisher
{
  NearbyCatalog *catalog;
  gulong changed_id;
  gulong tips_id;
  AvahiGLibPoll *poll;
  AvahiClient *client;
  gboolean running;
  gboolean said_no_daemon;
  guint reconnect_id;
  guint retry_ms;
  guint16 port;
  char *key;           /* the server's pin, in every record */
  char *owner;         /* its owner's display name, or NULL */
  GHashTable *entries; /* name -> Entry, at most MAX_ANNOUNCED */
  gboolean said_cap;   /* the one warning that not every branch is announced */
  guint unreadable;    /* branches passed over at the last full sync: no tip to read */
};

static void register_entry (NearbyPublisher *self, Entry *entry);

static void
entry_drop_group (Entry *entry)
{
  /* Freeing a group withdraws its services: the goodbye packets. */
  if (entry->group != NULL)
    avahi_entry_group_free (entry->group);
  entry->group = NULL;
  entry->registered = FALSE;
}

static void
entry_free (gpointer data)
{
  Entry *entry = data;

  entry_drop_group (entry);
  g_free (entry->name);
  g_free (entry->instance);
  g_strfreev (entry->txt);
  g_free (entry);
}

static AvahiStringList *
to_string_list (GStrv txt)
{
  AvahiStringList *list = NULL;

  /* avahi_string_list_add prepends: add in reverse to keep txtvers first. */
  for (gint i = (gint) g_strv_length (txt) - 1; i >= 0; i--)
    list = avahi_string_list_add (list, txt[i]);
  return list;
}

/* The instance name is taken (on this host or the network): take Avahi's
 * alternative, "name #2" and so on. */
static void
rename_entry (Entry *entry)
{
  char *alternative = avahi_alternative_service_name (entry->instance);

  g_message ("the service name '%s' is taken on the network; using '%s'", entry->instance,
             alternative);
  g_free (entry->instance);
  entry->instance = g_strdup (alternative);
  avahi_free (alternative);
}

static void
on_group_state (AvahiEntryGroup *group, AvahiEntryGroupState state, void *user_data)
{
  Entry *entry = user_data;

  switch (state)
    {
    case AVAHI_ENTRY_GROUP_ESTABLISHED:
      g_debug ("published '%s' as '%s'", entry->name, entry->instance);
      break;
    case AVAHI_ENTRY_GROUP_COLLISION:
      rename_entry (entry);
      avahi_entry_group_reset (group);
      entry->registered = FALSE;
      register_entry (entry->publisher, entry);
      break;
    case AVAHI_ENTRY_GROUP_FAILURE:
      g_warning ("cannot publish '%s': %s", entry->name,
                 avahi_strerror (avahi_client_errno (avahi_entry_group_get_client (group))));
      break;
    case AVAHI_ENTRY_GROUP_UNCOMMITED:
    case AVAHI_ENTRY_GROUP_REGISTERING:
    default:
      break;
    }
}

static void
register_entry (NearbyPublisher *self, Entry *entry)
{
  g_autoptr (AvahiStringList) txt = NULL;
  int rc;

  if (!self->running || entry->registered)
    return;
  if (entry->instance == NULL)
    entry->instance = nearby_instance_name (entry->name, avahi_client_get_host_name (self->client));
  if (entry->group == NULL)
    {
      entry->group = avahi_entry_group_new (self->client, on_group_state, entry);
      if (entry->group == NULL)
        {
          g_warning ("cannot publish '%s': %s", entry->name,
                     avahi_strerror (avahi_client_errno (self->client)));
          return;
        }
    }

  txt = to_string_list (entry->txt);
  for (int attempt = 0; attempt < 16; attempt++)
    {
      rc = avahi_entry_group_add_service_strlst (entry->group, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC,
                                                 0, entry->instance, NEARBY_SERVICE_TYPE, NULL,
                                                 NULL, self->port, txt);
      if (rc != AVAHI_ERR_COLLISION)
        break;
      /* Taken by another group on this very host: rename and retry. */
      rename_entry (entry);
      avahi_entry_group_reset (entry->group);
    }
  if (rc < 0 || (rc = avahi_entry_group_commit (entry->group)) < 0)
    {
      g_warning ("cannot publish '%s': %s", entry->name, avahi_strerror (rc));
      avahi_entry_group_reset (entry->group);
      return;
    }
  entry->registered = TRUE;
}

/* The TXT record of @branch now, and the tip it names; NULL if the branch
 * is gone or cannot be announced. */
static GStrv
txt_for (NearbyPublisher *self, NearbyBranch *branch, git_oid *tip, gboolean *unborn)
{
  g_auto (NearbyUploadTarget) target = { 0 };
  g_autoptr (git_commit) commit = NULL;
  g_autofree char *path = nearby_name_to_path (branch->name);
  char head[GIT_OID_HEXSZ + 1], root[GIT_OID_HEXSZ + 1], date[24];
  g_autofree char *subject = NULL;
  NearbyTxt txt = {
    .name = branch->name,
    .path = path,
    .ref = branch->refname,
    .key = self->key,
    .owner = self->owner,
  };
  g_autoptr (GError) error = NULL;
  GStrv strings;
  git_oid root_oid;

  if (!nearby_branch_resolve (branch, &target, NULL))
    return NULL; /* gone: not announced */
  git_oid_cpy (tip, &target.tip);
  *unborn = target.unborn;
  if (!target.unborn)
    {
      git_oid_tostr (head, sizeof head, &target.tip);
      txt.head = head;
      /* The subject that people choose by when two offer the same name;
       * nearby_txt_encode() cuts it to fit. */
      if (git_commit_lookup (&commit, target.repo, &target.tip) == 0)
        {
          subject = nearby_commit_text_utf8 (commit, git_commit_summary (commit));
          txt.subject = subject;
          /* Its age, for people choosing between branches. */
          g_snprintf (date, sizeof date, "%" G_GINT64_FORMAT,
                      (gint64) MAX (git_commit_time (commit), 0));
          txt.date = date;
        }
      if (nearby_branch_root_commit (branch, &target.tip, &root_oid))
        {
          git_oid_tostr (root, sizeof root, &root_oid);
          txt.repo = root;
        }
    }
  strings = nearby_txt_encode (&txt, &error);
  if (strings == NULL)
    g_warning ("not announcing '%s': %s", branch->name, error->message);
  return strings;
}

/* A new TXT record for an entry: in place if it is announced (a committed
 * group can update a service's TXT, not take a new service). */
static void
entry_set_txt (Entry *entry, GStrv txt)
{
  g_strfreev (entry->txt);
  entry->txt = txt;
  if (entry->registered)
    {
      g_autoptr (AvahiStringList) list = to_string_list (entry->txt);
      int rc = avahi_entry_group_update_service_txt_strlst (entry->group, AVAHI_IF_UNSPEC,
                                                            AVAHI_PROTO_UNSPEC, 0, entry->instance,
                                                            NEARBY_SERVICE_TYPE, NULL, list);

      if (rc < 0)
        g_warning ("cannot update the TXT record of '%s': %s", entry->name, avahi_strerror (rc));
      else
        g_debug ("updated the TXT record of '%s'", entry->name);
    }
}

typedef struct
{
  GStrv txt;
  git_oid tip;
  gboolean unborn;
} Wanted;

static void
wanted_free (Wanted *wanted)
{
  g_strfreev (wanted->txt);
  g_free (wanted);
}

/* Brings the announced services in line with what is served: the first
 * MAX_ANNOUNCED branches by name that can be announced. Only those are
 * read; the rest cost nothing here. */
static void
sync_services (NearbyPublisher *self)
{
  g_autoptr (GPtrArray) branches = nearby_catalog_list (self->catalog);
  g_autoptr (GHashTable) wanted
      = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) wanted_free);
  GHashTableIter iter;
  gpointer key, value;
  guint skipped = 0;

  for (guint i = 0; i < branches->len && g_hash_table_size (wanted) < MAX_ANNOUNCED; i++)
    {
      NearbyBranch *branch = branches->pdata[i];
      Wanted *w = g_new0 (Wanted, 1);

      w->txt = txt_for (self, branch, &w->tip, &w->unborn);
      if (w->txt != NULL)
        g_hash_table_insert (wanted, branch->name, w);
      else
        {
          wanted_free (w);
          skipped++;
        }
    }
  /* Their refs may come back with no change to the catalog. */
  self->unreadable = skipped;
  if (branches->len > MAX_ANNOUNCED)
    {
      /* Once: the same is true at every later sync. */
      if (!self->said_cap)
        g_warning ("announcing %u of %u advertised branches on the LAN (Avahi's limit); all "
                   "are served",
                   g_hash_table_size (wanted), branches->len);
      else
        g_debug ("announcing %u of %u advertised branches", g_hash_table_size (wanted),
                 branches->len);
      self->said_cap = TRUE;
    }

  g_hash_table_iter_init (&iter, self->entries);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (!g_hash_table_contains (wanted, key))
      {
        g_debug ("withdrawing '%s'", (char *) key);
        g_hash_table_iter_remove (&iter);
      }

  g_hash_table_iter_init (&iter, wanted);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      Entry *entry = g_hash_table_lookup (self->entries, key);
      Wanted *w = value;

      if (entry == NULL)
        {
          entry = g_new0 (Entry, 1);
          entry->publisher = self;
          entry->name = g_strdup (key);
          entry->txt = g_steal_pointer (&w->txt);
          g_hash_table_insert (self->entries, entry->name, entry);
        }
      else if (!g_strv_equal ((const char *const *) entry->txt, (const char *const *) w->txt))
        entry_set_txt (entry, g_steal_pointer (&w->txt));
      git_oid_cpy (&entry->tip, &w->tip);
      entry->unborn = w->unborn;
      /* New, or withdrawn meanwhile (the daemon came back, the host was
       * renamed): announce. A no-op for what is announced already. */
      register_entry (self, entry);
    }
}

/* Some tip moved: only the announced branches are looked at, and only a
 * branch whose tip differs from its record gets a new TXT. A branch gone
 * or no longer announceable means the set changes: a full sync. */
static void
sync_tips (NearbyPublisher *self)
{
  GHashTableIter iter;
  gpointer value;
  gboolean resync = self->unreadable > 0;
  gint64 start = g_get_monotonic_time ();
  guint moved = 0;

  g_hash_table_iter_init (&iter, self->entries);
  while (!resync && g_hash_table_iter_next (&iter, NULL, &value))
    {
      Entry *entry = value;
      g_autoptr (NearbyBranch) branch = nearby_catalog_lookup (self->catalog, entry->name);
      g_auto (NearbyUploadTarget) target = { 0 };
      git_oid tip;
      gboolean unborn;
      GStrv txt;

      if (branch == NULL || !nearby_branch_resolve (branch, &target, NULL))
        {
          resync = TRUE;
          break;
        }
      if (target.unborn == entry->unborn
          && (target.unborn || git_oid_equal (&target.tip, &entry->tip)))
        continue;
      if ((txt = txt_for (self, branch, &tip, &unborn)) == NULL)
        {
          resync = TRUE;
          break;
        }
      git_oid_cpy (&entry->tip, &tip);
      entry->unborn = unborn;
      moved++;
      if (g_strv_equal ((const char *const *) entry->txt, (const char *const *) txt))
        g_strfreev (txt);
      else
        entry_set_txt (entry, txt);
    }
  g_debug ("tips: %u of %u announced branches moved (%" G_GINT64_FORMAT " ms)", moved,
           g_hash_table_size (self->entries), (g_get_monotonic_time () - start) / 1000);
  if (resync)
    sync_services (self);
}

static void
reset_all (NearbyPublisher *self, gboolean free_groups)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->entries);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Entry *entry = value;

      if (free_groups)
        entry->group = NULL; /* freed with the client */
      else if (entry->group != NULL)
        avahi_entry_group_reset (entry->group);
      entry->registered = FALSE;
      g_clear_pointer (&entry->instance, g_free); /* the host name may change */
    }
}

static void connect_client (NearbyPublisher *self);

static gboolean
on_reconnect (gpointer user_data)
{
  NearbyPublisher *self = user_data;

  self->reconnect_id = 0;
  connect_client (self);
  return G_SOURCE_REMOVE;
}

static void
on_client_state (AvahiClient *client, AvahiClientState state, void *user_data)
{
  NearbyPublisher *self = user_data;

  /* Called from within avahi_client_new() too, before it returns. */
  self->client = client;
  switch (state)
    {
    case AVAHI_CLIENT_S_RUNNING:
      g_message ("announcing on the LAN as %s", avahi_client_get_host_name (client));
      self->running = TRUE;
      self->said_no_daemon = FALSE;
      sync_services (self);
      break;
    case AVAHI_CLIENT_S_COLLISION:
    case AVAHI_CLIENT_S_REGISTERING:
      /* The host name is being (re)registered: withdraw until running. */
      self->running = FALSE;
      reset_all (self, FALSE);
      break;
    case AVAHI_CLIENT_CONNECTING:
      self->running = FALSE;
      if (!self->said_no_daemon)
        g_warning (
            "avahi-daemon is not running: serving without announcing on the LAN until it starts");
      self->said_no_daemon = TRUE;
      break;
    case AVAHI_CLIENT_FAILURE:
      self->running = FALSE;
      if (avahi_client_errno (client) == AVAHI_ERR_DISCONNECTED)
        {
          g_warning ("lost avahi-daemon; announcing again when it is back");
          self->said_no_daemon = TRUE;
        }
      else
        g_warning ("Avahi failed: %s", avahi_strerror (avahi_client_errno (client)));
      /* The groups go with the client; a new client waits for the daemon. */
      reset_all (self, TRUE);
      avahi_client_free (client);
      self->client = NULL;
      if (self->reconnect_id == 0)
        self->reconnect_id = g_timeout_add (RECONNECT_MS, on_reconnect, self);
      break;
    default:
      break;
    }
}

static void
connect_client (NearbyPublisher *self)
{
  int error = 0;
  AvahiClient *client = avahi_client_new (avahi_glib_poll_get (self->poll), AVAHI_CLIENT_NO_FAIL,
                                          on_client_state, self, &error);

  if (client == NULL)
    {
      /* No system bus at all: NO_FAIL cannot wait for the daemon then. Say so
       * once and try again, less and less often. */
      if (!self->said_no_daemon)
        g_warning ("avahi-daemon is not running (%s): serving without announcing on the LAN until "
                   "it starts",
                   avahi_strerror (error));
      self->said_no_daemon = TRUE;
      self->retry_ms = MIN (MAX (self->retry_ms * 2, RECONNECT_MS), MAX_RECONNECT_MS);
      self->reconnect_id = g_timeout_add (self->retry_ms, on_reconnect, self);
    }
  else
    self->retry_ms = 0;
}

static void
on_catalog_changed (NearbyCatalog *catalog, gpointer user_data)
{
  NearbyPublisher *self = user_data;

  sync_services (self);
}

static void
on_tips_changed (NearbyCatalog *catalog, gpointer user_data)
{
  NearbyPublisher *self = user_data;

  sync_tips (self);
}

const char *
nearby_publisher_why_not_announced (NearbyPublisher *self, const char *name)
{
  if (!self->running)
    return "no-avahi-daemon";
  if (g_hash_table_contains (self->entries, name))
    return NULL;
  return g_hash_table_size (self->entries) >= MAX_ANNOUNCED ? "cap" : "unreadable";
}

NearbyPublisher *
nearby_publisher_new (NearbyCatalog *catalog, guint16 port, const char *key, const char *owner)
{
  NearbyPublisher *self = g_new0 (NearbyPublisher, 1);

  self->key = g_strdup (key);
  self->owner = g_strdup (owner);
  avahi_set_allocator (avahi_glib_allocator ());
  self->catalog = g_object_ref (catalog);
  self->port = port;
  self->entries = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, entry_free);
  self->poll = avahi_glib_poll_new (NULL, G_PRIORITY_DEFAULT);
  self->changed_id = g_signal_connect (catalog, "changed", G_CALLBACK (on_catalog_changed), self);
  self->tips_id = g_signal_connect (catalog, "tips-changed", G_CALLBACK (on_tips_changed), self);
  connect_client (self);
  return self;
}

void
nearby_publisher_free (NearbyPublisher *self)
{
  if (self == NULL)
    return;
  g_clear_signal_handler (&self->changed_id, self->catalog);
  g_clear_signal_handler (&self->tips_id, self->catalog);
  g_clear_handle_id (&self->reconnect_id, g_source_remove);
  /* Entries first: their groups' goodbyes go out through the client. */
  g_clear_pointer (&self->entries, g_hash_table_unref);
  if (self->client != NULL)
    avahi_client_free (self->client);
  avahi_glib_poll_free (self->poll);
  g_object_unref (self->catalog);
  g_free (self->key);
  g_free (self->owner);
  g_free (self);
}
