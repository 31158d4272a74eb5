#include "browser.h"
#include "browser-private.h"

#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-common/defs.h>
#include <avahi-common/domain.h>
#include <avahi-common/error.h>
#include <avahi-glib/glib-malloc.h>
#include <avahi-glib/glib-watch.h>
#include <net/if.h>
#include <string.h>

#include "identity.h"
#include "name.h"
#include "nearby-error.h"
#include "txt-record.h"
#include "untrusted.h"
#include "url.h"

/* One resolved copy: an instance on one interface and protocol. */
typedef struct _Browse Browse;

typedef struct
{
  Browse *browse;
  AvahiIfIndex interface;
  AvahiProtocol protocol;
  char *instance;
  char *key;              /* the logical service: instance + host + port */
  NearbyService *service; /* this copy's view */
  AvahiServiceResolver *resolver;
  AvahiRecordBrowser *txt_browser; /* --watch: follows TXT updates */
  char *type;
  char *domain;
  char *path;        /* from the TXT record, to rebuild the URL */
  gboolean resolved; /* has a service */
  gboolean answered; /* its resolver has answered (found or failed) */
} Copy;

/* Avahi serves each client at most 1,024 objects; a flood of instances must
 * neither exhaust that nor start a resolver per instance at once. */
#define MAX_RESOLVERS 16

/* After ALL_FOR_NOW, how long a browse that ends still waits for a resolver
 * to answer: while they keep answering (a crowded LAN, resolved 16 at a
 * time) it waits on; once none has for this long, the ones left are hosts
 * that do not answer. A live host answers from the cache or within a round
 * trip; one that left without a goodbye keeps a stale record whose
 * resolver would take Avahi's 5 s, and must not hold up everyone else. */
#define RESOLVE_GRACE_MS 500

/* --watch: how long "appeared" waits for a better address than the first
 * one resolved (each copy of a service resolves on its own: link-local
 * IPv6 is often first, IPv4 a few milliseconds later). */
#define APPEAR_HOLD_MS 300

/* --watch: every server shown is asked for a TCP connection this often;
 * after LIVENESS_FAILURES failures in a row its services have vanished
 * (a host that leaves without a goodbye keeps its records in Avahi's cache
 * for a long time). Each failure also resolves them again, so that a new
 * address is found rather than reported as a departure. */
#define LIVENESS_INTERVAL_MS 2000
#define LIVENESS_FAILURES 2

/* Seconds for a connection to a candidate to be made (and, for the key
 * probe, each read and write): on a LAN it takes milliseconds. */
#define PROBE_TIMEOUT_S 1

/* --watch: a server and how it answers. */
typedef struct
{
  Browse *browse;
  char *id;
  GSocketAddress *address;
  guint failures;
  gboolean dead;
  gboolean probing;
  gint64 next_us; /* when to ask next */
} Server;

struct _Browse
{
  GMainContext *context;
  AvahiGLibPoll *poll;
  GSource *timeout;
  GSource *grace;
  GMainLoop *loop;
  AvahiClient *client;
  AvahiServiceBrowser *browser;
  GHashTable *copies;   /* "if/proto/instance" -> Copy */
  GHashTable *services; /* key -> NearbyService (merged) */
  gboolean watch;
  gboolean all_for_now;
  gboolean cache_exhausted;
  gboolean grace_over;  /* after ALL_FOR_NOW, no resolver answered for RESOLVE_GRACE_MS */
  gboolean timed_out;   /* the caller's timeout ended it */
  const char *only;     /* resolve only instances that may be this name */
  const char *pin;      /* resolving for a pinned remote: done at the first fit */
  GHashTable *rejected; /* merge keys nearby_resolve() turned down */
  guint pending;        /* copies whose resolver has not answered yet */
  guint active;         /* resolvers running and not answered */
  GQueue waiting;       /* copies whose resolver is not started yet */
  guint refused;        /* resolvers avahi-daemon would not run */
  int refused_error;    /* why, the first time */
  NearbyBrowseFunc func;
  gpointer user_data;
  GError *error;
  /* --watch only */
  GHashTable *held;      /* merge key -> GSource: "appeared" held back */
  const char *releasing; /* the key whose hold is over, while it is merged */
  GHashTable *servers;   /* server id -> Server */
  GSource *liveness;     /* the probe tick */
  GCancellable *probes;  /* cancels the probes in flight */
  GSource *reconnect;    /* a new avahi-client, after the daemon left */
  GSource *sweep;        /* after reconnecting: what did not come back vanished */
  gboolean sweep_due;
  gboolean told_complete; /* NEARBY_BROWSE_COMPLETE has been reported */
  gboolean lost;          /* NEARBY_BROWSE_LOST, and the sweep not yet over */
};

void
nearby_service_free (NearbyService *service)
{
  if (service == NULL)
    return;
  g_free (service->name);
  g_free (service->host);
  g_free (service->address);
  g_free (service->ifname);
  g_free (service->url);
  g_free (service->branch);
  g_free (service->head);
  g_free (service->repo);
  g_free (service->key);
  g_free (service->owner);
  g_free (service->subject);
  g_free (service->id);
  g_free (service);
}

NearbyService *
nearby_service_copy (const NearbyService *s)
{
  NearbyService *c = g_new0 (NearbyService, 1);

  c->name = g_strdup (s->name);
  c->host = g_strdup (s->host);
  c->address = g_strdup (s->address);
  c->ifname = g_strdup (s->ifname);
  c->port = s->port;
  c->url = g_strdup (s->url);
  c->branch = g_strdup (s->branch);
  c->head = g_strdup (s->head);
  c->repo = g_strdup (s->repo);
  c->key = g_strdup (s->key);
  c->owner = g_strdup (s->owner);
  c->subject = g_strdup (s->subject);
  c->date = s->date;
  c->id = g_strdup (s->id);
  return c;
}

static gboolean
service_equal (const NearbyService *a, const NearbyService *b)
{
  return g_strcmp0 (a->url, b->url) == 0 && g_strcmp0 (a->head, b->head) == 0
         && g_strcmp0 (a->branch, b->branch) == 0 && g_strcmp0 (a->repo, b->repo) == 0
         && g_strcmp0 (a->key, b->key) == 0 && g_strcmp0 (a->owner, b->owner) == 0
         && g_strcmp0 (a->subject, b->subject) == 0 && a->date == b->date;
}

static void
copy_free (gpointer data)
{
  Copy *copy = data;

  if (copy->txt_browser != NULL)
    avahi_record_browser_free (copy->txt_browser);
  if (copy->resolver != NULL)
    avahi_service_resolver_free (copy->resolver);
  g_free (copy->type);
  g_free (copy->domain);
  g_free (copy->path);
  g_free (copy->instance);
  g_free (copy->key);
  nearby_service_free (copy->service);
  g_free (copy);
}

/* IPv4 first, then routable IPv6, then link-local IPv6. */
static int
address_rank (const NearbyService *s)
{
  if (strchr (s->address, ':') == NULL)
    return 0;
  return nearby_url_is_link_local (s->address) ? 2 : 1;
}

/* Where @s's server listens: one liveness per address, zone and port. */
static char *
server_id (const NearbyService *s)
{
  return g_strdup_printf ("%s%%%s %u", s->address, s->ifname != NULL ? s->ifname : "", s->port);
}

static gboolean
server_is_dead (Browse *b, const NearbyService *s)
{
  g_autofree char *id = NULL;
  Server *server;

  if (b->servers == NULL)
    return FALSE;
  id = server_id (s);
  server = g_hash_table_lookup (b->servers, id);
  return server != NULL && server->dead;
}

typedef struct
{
  Browse *browse;
  char *key;
} Hold;

static void
hold_free (gpointer data)
{
  Hold *hold = data;

  g_free (hold->key);
  g_free (hold);
}

static void merge (Browse *b, const char *key);
static void maybe_done (Browse *b);

static gboolean
on_hold_over (gpointer user_data)
{
  Hold *hold = user_data;
  Browse *b = hold->browse;
  g_autofree char *key = g_strdup (hold->key);

  /* Removing it destroys this source, which is allowed while it runs. */
  g_hash_table_remove (b->held, key);
  b->releasing = key;
  merge (b, key);
  b->releasing = NULL;
  maybe_done (b);
  return G_SOURCE_REMOVE;
}

/* Whether to hold back the first report of @key, whose best address so
 * far is @best: only while watching, only for a while, and only when a
 * better address may still come. */
static gboolean
hold_appearance (Browse *b, const char *key, const NearbyService *best)
{
  Hold *hold;
  GSource *source;

  if (!b->watch || address_rank (best) == 0 || g_strcmp0 (b->releasing, key) == 0)
    {
      g_hash_table_remove (b->held, key);
      return FALSE;
    }
  if (g_hash_table_contains (b->held, key))
    return TRUE;
  hold = g_new0 (Hold, 1);
  hold->browse = b;
  hold->key = g_strdup (key);
  source = g_timeout_source_new (APPEAR_HOLD_MS);
  g_source_set_callback (source, on_hold_over, hold, hold_free);
  g_source_attach (source, b->context);
  g_hash_table_insert (b->held, g_strdup (key), source);
  return TRUE;
}

/* Recomputes the merged view of @key from its copies and reports it.
 * Copies at a server that stopped answering do not count. */
static void
merge (Browse *b, const char *key)
{
  GHashTableIter iter;
  gpointer value;
  const NearbyService *best = NULL;
  NearbyService *old = g_hash_table_lookup (b->services, key);

  g_hash_table_iter_init (&iter, b->copies);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Copy *copy = value;

      if (!copy->resolved || strcmp (copy->key, key) != 0 || server_is_dead (b, copy->service))
        continue;
      if (best == NULL || address_rank (copy->service) < address_rank (best)
          || (address_rank (copy->service) == address_rank (best)
              && g_strcmp0 (copy->service->url, best->url) < 0))
        best = copy->service;
    }

  if (best == NULL)
    {
      if (b->held != NULL)
        g_hash_table_remove (b->held, key);
      if (old != NULL)
        {
          if (b->func != NULL)
            b->func (NEARBY_BROWSE_VANISHED, old, b->user_data);
          g_hash_table_remove (b->services, key);
        }
      return;
    }
  if (old != NULL && service_equal (old, best))
    return;
  if (old == NULL && hold_appearance (b, key, best))
    return;
  {
    NearbyService *merged = nearby_service_copy (best);

    g_free (merged->id);
    merged->id = g_strdup (key);
    g_hash_table_replace (b->services, g_strdup (key), merged);
  }
  if (b->func != NULL)
    b->func (old == NULL ? NEARBY_BROWSE_APPEARED : NEARBY_BROWSE_CHANGED,
             g_hash_table_lookup (b->services, key), b->user_data);
}

/* The instance a merge key belongs to (its first line). */
static gboolean
key_is_instance (const char *key, const char *instance)
{
  gsize n = strlen (instance);

  return strncmp (key, instance, n) == 0 && key[n] == '\n';
}

/* Resolving for a pinned remote: the service of the pinned key that
 * NAME stands for, once it is known that no better one will come — at
 * once for the name itself (as soon as its copies have answered, or it
 * has an IPv4 address), and for a name given by its end once Avahi's
 * cache is read and every resolver has answered. NULL: not yet. */
static const NearbyService *
pinned_fit (Browse *b, const char **fit_key)
{
  GHashTableIter iter;
  gpointer key, value;
  g_autofree char *suffix = g_strconcat ("/", b->only, NULL);

  g_hash_table_iter_init (&iter, b->services);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      const NearbyService *s = value;
      gboolean waiting = FALSE;
      GHashTableIter copies;
      gpointer c;

      if (g_strcmp0 (s->key, b->pin) != 0 || g_hash_table_contains (b->rejected, key))
        continue;
      if (strcmp (s->name, b->only) != 0
          && !(g_str_has_suffix (s->name, suffix) && b->cache_exhausted && b->pending == 0))
        continue;
      g_hash_table_iter_init (&copies, b->copies);
      while (!waiting && address_rank (s) > 0 && g_hash_table_iter_next (&copies, NULL, &c))
        waiting = !((Copy *) c)->answered && key_is_instance (key, ((Copy *) c)->instance);
      if (waiting)
        continue;
      *fit_key = key;
      return s;
    }
  return NULL;
}

/* Whether what Avahi had when the browse began is known: ALL_FOR_NOW
 * and every resolver answered, or silent for the grace. */
static gboolean
first_answers_in (Browse *b)
{
  return b->all_for_now && (b->pending == 0 || b->grace_over);
}

static gboolean
browse_complete (Browse *b)
{
  const char *key;

  if (b->watch)
    return FALSE;
  if (b->pin != NULL && b->only != NULL && pinned_fit (b, &key) != NULL)
    return TRUE;
  return first_answers_in (b);
}

static void
maybe_done (Browse *b)
{
  if (browse_complete (b))
    g_main_loop_quit (b->loop);
  /* Watching: said once, when the held appearances are out too. */
  else if (b->watch && !b->told_complete && first_answers_in (b)
           && g_hash_table_size (b->held) == 0)
    {
      b->told_complete = TRUE;
      if (b->func != NULL)
        b->func (NEARBY_BROWSE_COMPLETE, NULL, b->user_data);
    }
}

static GStrv
strings_of (AvahiStringList *txt)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();

  for (AvahiStringList *l = txt; l != NULL; l = avahi_string_list_get_next (l))
    {
      g_autofree char *s = g_strndup ((const char *) avahi_string_list_get_text (l),
                                      avahi_string_list_get_size (l));
      g_strv_builder_add (builder, s);
    }
  return g_strv_builder_end (builder);
}

/* Fills @s's TXT-derived fields; FALSE if the record is not ours. */
static gboolean
apply_txt (NearbyService *s, char **path, AvahiStringList *txt, const char *instance)
{
  g_auto (GStrv) strings = strings_of (txt);
  g_auto (NearbyTxt) record = { 0 };
  g_autoptr (GError) error = NULL;

  if (!nearby_txt_decode ((const char *const *) strings, &record, &error))
    {
      g_autofree char *shown = nearby_untrusted_escape (instance);

      g_debug ("ignoring '%s': %s", shown, error->message);
      return FALSE;
    }
  g_free (s->name);
  s->name = g_steal_pointer (&record.name);
  g_free (s->branch);
  s->branch = record.ref != NULL && g_str_has_prefix (record.ref, "refs/heads/")
                  ? g_strdup (record.ref + strlen ("refs/heads/"))
                  : g_strdup (record.ref);
  g_free (s->head);
  s->head = g_steal_pointer (&record.head);
  g_free (s->repo);
  s->repo = g_steal_pointer (&record.repo);
  g_free (s->key);
  s->key = g_steal_pointer (&record.key);
  g_free (s->owner);
  s->owner = g_steal_pointer (&record.owner);
  g_free (s->subject);
  s->subject = g_steal_pointer (&record.subject);
  s->date = record.date != NULL ? g_ascii_strtoll (record.date, NULL, 10) : 0;
  g_free (*path);
  *path = g_steal_pointer (&record.path);
  if (s->address != NULL)
    {
      g_free (s->url);
      s->url = nearby_url_build_http (s->address, s->ifname, s->port, *path);
    }
  return TRUE;
}

char *
nearby_browser_merge_key (const char *instance, const NearbyService *s)
{
  /* Copies are one service only when they are the same instance on the
   * same host and port under the same key: anything looser lets one
   * advertiser's record stand in for another's (an impostor's record would
   * show the owner's key, or the owner's its own). */
  return g_strdup_printf ("%s\n%s\n%u\n%s", instance, s->host, s->port,
                          s->key != NULL ? s->key : "");
}

/* Files @copy under the logical service it now belongs to and reports. */
static void
refile (Browse *b, Copy *copy)
{
  g_autofree char *old_key = copy->resolved ? g_strdup (copy->key) : NULL;

  g_free (copy->key);
  copy->key = nearby_browser_merge_key (copy->instance, copy->service);
  copy->resolved = TRUE;
  if (old_key != NULL && strcmp (old_key, copy->key) != 0)
    merge (b, old_key);
  merge (b, copy->key);
}

static void
on_txt_record (AvahiRecordBrowser *browser, AvahiIfIndex interface, AvahiProtocol protocol,
               AvahiBrowserEvent event, const char *name, uint16_t clazz, uint16_t type,
               const void *rdata, size_t size, AvahiLookupResultFlags flags, void *user_data)
{
  Copy *copy = user_data;
  AvahiStringList *txt = NULL;

  if (event != AVAHI_BROWSER_NEW || copy->service == NULL)
    return;
  if (avahi_string_list_parse (rdata, size, &txt) < 0)
    return;
  if (apply_txt (copy->service, &copy->path, txt, copy->instance))
    refile (copy->browse, copy);
  avahi_string_list_free (txt);
}

static void on_resolved (AvahiServiceResolver *resolver, AvahiIfIndex interface,
                         AvahiProtocol protocol, AvahiResolverEvent event, const char *instance,
                         const char *type, const char *domain, const char *host_name,
                         const AvahiAddress *address, uint16_t port, AvahiStringList *txt,
                         AvahiLookupResultFlags flags, void *user_data);

/* Counts work avahi-daemon refused; said once, not per instance, and not
 * only in debug output: a flood makes real names vanish otherwise. */
static void
note_refused (Browse *b, int error)
{
  if (b->refused++ == 0)
    b->refused_error = error;
  if (b->watch && b->refused == 1)
    g_warning ("avahi-daemon refused to resolve a service (%s); some branches may not show",
               avahi_strerror (error));
}

/* Starts waiting resolvers while fewer than MAX_RESOLVERS run. */
static void
start_resolvers (Browse *b)
{
  while (b->active < MAX_RESOLVERS && !g_queue_is_empty (&b->waiting))
    {
      Copy *copy = g_queue_pop_head (&b->waiting);

      copy->resolver = avahi_service_resolver_new (b->client, copy->interface, copy->protocol,
                                                   copy->instance, copy->type, copy->domain,
                                                   copy->protocol, 0, on_resolved, copy);
      if (copy->resolver == NULL)
        {
          int error = avahi_client_errno (b->client);
          g_autofree char *shown = nearby_untrusted_escape (copy->instance);

          g_debug ("cannot resolve '%s': %s", shown, avahi_strerror (error));
          if (error == AVAHI_ERR_TOO_MANY_OBJECTS)
            note_refused (b, error);
          /* Never to be answered: it no longer holds the browse up. */
          copy->answered = TRUE;
          b->pending--;
          maybe_done (b);
          continue;
        }
      b->active++;
    }
}

/* Queues @copy (answered, or new) for a resolver. */
static void
start_resolver_of (Browse *b, Copy *copy)
{
  g_clear_pointer (&copy->resolver, avahi_service_resolver_free);
  copy->answered = FALSE;
  b->pending++;
  g_queue_push_tail (&b->waiting, copy);
  start_resolvers (b);
}

static void restart_grace (Browse *b);

/* The first answer of @copy's resolver: a place for the next one. */
static void
answered (Browse *b, Copy *copy)
{
  if (copy->answered)
    return;
  copy->answered = TRUE;
  b->pending--;
  b->active--;
  start_resolvers (b);
  restart_grace (b);
}

static void
on_resolved (AvahiServiceResolver *resolver, AvahiIfIndex interface, AvahiProtocol protocol,
             AvahiResolverEvent event, const char *instance, const char *type, const char *domain,
             const char *host_name, const AvahiAddress *address, uint16_t port,
             AvahiStringList *txt, AvahiLookupResultFlags flags, void *user_data)
{
  Copy *copy = user_data;
  Browse *b = copy->browse;
  char addr[AVAHI_ADDRESS_STR_MAX];
  char ifname[IF_NAMESIZE] = "";
  g_autofree char *shown = nearby_untrusted_escape (instance);
  NearbyService *s;

  answered (b, copy);

  if (event != AVAHI_RESOLVER_FOUND)
    {
      int error = avahi_client_errno (avahi_service_resolver_get_client (resolver));

      g_debug ("cannot resolve '%s': %s", shown, avahi_strerror (error));
      if (error == AVAHI_ERR_TOO_MANY_OBJECTS)
        note_refused (b, error);
      /* A failed resolver still counts against Avahi's objects per client. */
      avahi_service_resolver_free (copy->resolver);
      copy->resolver = NULL;
      maybe_done (b);
      return;
    }

  avahi_address_snprint (addr, sizeof addr, address);
  /* Anyone can answer for any host name, with any address. */
  if (!nearby_url_address_is_usable (addr))
    {
      g_debug ("ignoring '%s': its address %s is loopback or unspecified", shown, addr);
      maybe_done (b);
      return;
    }
  if_indextoname (interface, ifname);
  s = g_new0 (NearbyService, 1);
  s->host = nearby_untrusted_utf8 (host_name);
  if (g_str_has_suffix (s->host, ".local"))
    s->host[strlen (s->host) - strlen (".local")] = '\0';
  s->address = g_strdup (addr);
  s->ifname = g_strdup (ifname);
  s->port = port;
  if (!apply_txt (s, &copy->path, txt, instance))
    {
      nearby_service_free (s);
      maybe_done (b);
      return;
    }
  nearby_service_free (copy->service);
  copy->service = s;
  refile (b, copy);

  /* Watching: resolvers answer once, so follow the TXT record itself. */
  if (b->watch && copy->txt_browser == NULL)
    {
      char fullname[AVAHI_DOMAIN_NAME_MAX];

      if (avahi_service_name_join (fullname, sizeof fullname, instance, type, domain) == 0)
        copy->txt_browser = avahi_record_browser_new (b->client, interface, protocol, fullname,
                                                      AVAHI_DNS_CLASS_IN, AVAHI_DNS_TYPE_TXT, 0,
                                                      on_txt_record, copy);
      if (copy->txt_browser == NULL && avahi_client_errno (b->client) == AVAHI_ERR_TOO_MANY_OBJECTS)
        note_refused (b, AVAHI_ERR_TOO_MANY_OBJECTS);
    }

  /* A browse that ends, or one that follows the TXT record, does not need
   * the resolver any more (and it counts against Avahi's objects). */
  if (!b->watch || copy->txt_browser != NULL)
    {
      avahi_service_resolver_free (copy->resolver);
      copy->resolver = NULL;
    }
  maybe_done (b);
}

static void on_client_state (AvahiClient *client, AvahiClientState state, void *user_data);

static gboolean
on_grace_over (gpointer user_data)
{
  Browse *b = user_data;

  g_debug ("not waiting any longer for %u resolver(s): their hosts do not answer", b->pending);
  b->grace_over = TRUE;
  g_clear_pointer (&b->grace, g_source_unref);
  maybe_done (b);
  return G_SOURCE_REMOVE;
}

/* (Re)starts the wait for the next resolver to answer, after ALL_FOR_NOW. */
static void
restart_grace (Browse *b)
{
  /* Watching, only the first browse waits (for its COMPLETE). */
  if ((b->watch && b->told_complete) || !b->all_for_now || b->grace_over)
    return;
  if (b->grace != NULL)
    {
      g_source_destroy (b->grace);
      g_clear_pointer (&b->grace, g_source_unref);
    }
  if (b->pending == 0)
    return;
  b->grace = g_timeout_source_new (RESOLVE_GRACE_MS);
  g_source_set_callback (b->grace, on_grace_over, b, NULL);
  g_source_attach (b->grace, b->context);
}

/* Reports as vanished what the new daemon did not find again. */
static gboolean
on_sweep (gpointer user_data)
{
  Browse *b = user_data;
  g_autofree gpointer *keys = NULL;
  guint n = 0;

  g_clear_pointer (&b->sweep, g_source_unref);
  keys = g_hash_table_get_keys_as_array (b->services, &n);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *key = g_strdup (keys[i]);

      merge (b, key);
    }
  if (b->lost)
    {
      b->lost = FALSE;
      if (b->func != NULL)
        b->func (NEARBY_BROWSE_COMPLETE, NULL, b->user_data);
    }
  return G_SOURCE_REMOVE;
}

/* Resolvers that the new daemon started may still be answering. */
static void
start_sweep (Browse *b)
{
  b->sweep_due = FALSE;
  if (b->sweep != NULL)
    return;
  b->sweep = g_timeout_source_new (2 * RESOLVE_GRACE_MS + APPEAR_HOLD_MS);
  g_source_set_callback (b->sweep, on_sweep, b, NULL);
  g_source_attach (b->sweep, b->context);
}

/* avahi-daemon went away: everything that belonged to its client goes,
 * what was reported stays (and is checked again once it is back). */
static gboolean
on_reconnect (gpointer user_data)
{
  Browse *b = user_data;
  int rc = 0;

  g_clear_pointer (&b->reconnect, g_source_unref);
  g_warning ("lost avahi-daemon; watching again when it is back");
  /* A sweep for the daemon before this one would find nothing now. */
  if (b->sweep != NULL)
    g_source_destroy (b->sweep);
  g_clear_pointer (&b->sweep, g_source_unref);
  g_queue_clear (&b->waiting);
  g_hash_table_remove_all (b->copies);
  b->pending = b->active = 0;
  b->all_for_now = b->cache_exhausted = FALSE;
  g_clear_pointer (&b->browser, avahi_service_browser_free);
  g_clear_pointer (&b->client, avahi_client_free);
  b->sweep_due = TRUE;
  b->client = avahi_client_new (avahi_glib_poll_get (b->poll), AVAHI_CLIENT_NO_FAIL,
                                on_client_state, b, &rc);
  if (b->client == NULL)
    {
      g_set_error (&b->error, NEARBY_ERROR, NEARBY_ERROR_FAILED, "lost avahi-daemon: %s",
                   avahi_strerror (rc));
      g_main_loop_quit (b->loop);
    }
  else if (!b->lost)
    {
      b->lost = TRUE;
      if (b->func != NULL)
        b->func (NEARBY_BROWSE_LOST, NULL, b->user_data);
    }
  return G_SOURCE_REMOVE;
}

static void
server_free (gpointer data)
{
  Server *server = data;

  g_clear_object (&server->address);
  g_free (server->id);
  g_free (server);
}

/* Merges again every service with a copy at @server. */
static void
merge_server (Browse *b, Server *server)
{
  g_autoptr (GPtrArray) keys = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, b->copies);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Copy *copy = value;
      g_autofree char *id = copy->resolved ? server_id (copy->service) : NULL;

      if (id != NULL && strcmp (id, server->id) == 0)
        g_ptr_array_add (keys, g_strdup (copy->key));
    }
  for (guint i = 0; i < keys->len; i++)
    merge (b, keys->pdata[i]);
}

/* Resolves again the copies at @server: a host with a new address
 * announces it, and Avahi's cache has it before we would notice. */
static void
resolve_server_again (Browse *b, Server *server)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, b->copies);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Copy *copy = value;
      g_autofree char *id = copy->resolved ? server_id (copy->service) : NULL;

      if (id != NULL && strcmp (id, server->id) == 0 && copy->answered)
        start_resolver_of (b, copy);
    }
}

static void
on_probed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Server *server = user_data;
  Browse *b = server->browse;
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketConnection) connection
      = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return; /* the browse is over; @server is gone */
  server->probing = FALSE;
  server->next_us = g_get_monotonic_time () + LIVENESS_INTERVAL_MS * 1000;
  if (connection != NULL)
    {
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
      server->failures = 0;
      if (server->dead)
        {
          g_debug ("%s answers again", server->id);
          server->dead = FALSE;
          merge_server (b, server);
        }
      return;
    }
  server->failures++;
  g_debug ("%s does not answer (%u in a row): %s", server->id, server->failures, error->message);
  resolve_server_again (b, server);
  if (server->failures >= LIVENESS_FAILURES && !server->dead)
    {
      server->dead = TRUE;
      merge_server (b, server);
    }
}

/* The liveness tick: every resolved copy's server is asked, at most one
 * probe each at a time; servers no copy uses any more are forgotten. */
static gboolean
on_liveness (gpointer user_data)
{
  Browse *b = user_data;
  g_autoptr (GHashTable) used = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GHashTableIter iter;
  gpointer key, value;
  gint64 now = g_get_monotonic_time ();

  g_hash_table_iter_init (&iter, b->copies);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Copy *copy = value;
      char *id;
      Server *server;

      if (!copy->resolved)
        continue;
      id = server_id (copy->service);
      if (g_hash_table_contains (used, id))
        {
          g_free (id);
          continue;
        }
      g_hash_table_add (used, id);
      server = g_hash_table_lookup (b->servers, id);
      if (server == NULL)
        {
          g_autofree char *where
              = nearby_url_is_link_local (copy->service->address) && *copy->service->ifname != '\0'
                    ? g_strdup_printf ("%s%%%s", copy->service->address, copy->service->ifname)
                    : g_strdup (copy->service->address);

          server = g_new0 (Server, 1);
          server->browse = b;
          server->id = g_strdup (id);
          server->address = g_inet_socket_address_new_from_string (where, copy->service->port);
          server->next_us = now + LIVENESS_INTERVAL_MS * 1000;
          g_hash_table_insert (b->servers, g_strdup (id), server);
        }
      if (!server->probing && server->address != NULL && now >= server->next_us)
        {
          g_autoptr (GSocketClient) client = g_socket_client_new ();

          g_socket_client_set_timeout (client, PROBE_TIMEOUT_S);
          g_socket_client_set_enable_proxy (client, FALSE);
          server->probing = TRUE;
          g_socket_client_connect_async (client, G_SOCKET_CONNECTABLE (server->address), b->probes,
                                         on_probed, server);
        }
    }
  g_hash_table_iter_init (&iter, b->servers);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (!g_hash_table_contains (used, key) && !((Server *) value)->probing)
      g_hash_table_iter_remove (&iter);
  return G_SOURCE_CONTINUE;
}

static void
on_browsed (AvahiServiceBrowser *browser, AvahiIfIndex interface, AvahiProtocol protocol,
            AvahiBrowserEvent event, const char *instance, const char *type, const char *domain,
            AvahiLookupResultFlags flags, void *user_data)
{
  Browse *b = user_data;
  g_autofree char *id = NULL;

  switch (event)
    {
    case AVAHI_BROWSER_NEW:
      {
        Copy *copy;

        /* Looking for one name, resolve only what may be it. */
        if (b->only != NULL && !nearby_instance_may_be (instance, b->only))
          break;
        id = g_strdup_printf ("%d/%d/%s", interface, protocol, instance);
        if (g_hash_table_contains (b->copies, id))
          break;
        copy = g_new0 (Copy, 1);
        copy->browse = b;
        copy->interface = interface;
        copy->protocol = protocol;
        copy->instance = g_strdup (instance);
        copy->type = g_strdup (type);
        copy->domain = g_strdup (domain);
        copy->key = g_strdup ("");
        copy->answered = TRUE;
        g_hash_table_insert (b->copies, g_steal_pointer (&id), copy);
        start_resolver_of (b, copy);
        break;
      }
    case AVAHI_BROWSER_REMOVE:
      {
        Copy *copy;
        g_autofree char *key = NULL;

        id = g_strdup_printf ("%d/%d/%s", interface, protocol, instance);
        copy = g_hash_table_lookup (b->copies, id);
        if (copy == NULL)
          break;
        if (!copy->answered)
          {
            b->pending--;
            if (copy->resolver != NULL)
              b->active--;
            else
              g_queue_remove (&b->waiting, copy);
          }
        key = g_strdup (copy->key);
        g_hash_table_remove (b->copies, id);
        merge (b, key);
        start_resolvers (b);
        maybe_done (b);
        break;
      }
    case AVAHI_BROWSER_ALL_FOR_NOW:
      b->all_for_now = TRUE;
      restart_grace (b);
      if (b->watch && b->sweep_due)
        start_sweep (b);
      maybe_done (b);
      break;
    case AVAHI_BROWSER_CACHE_EXHAUSTED:
      b->cache_exhausted = TRUE;
      maybe_done (b);
      break;
    case AVAHI_BROWSER_FAILURE:
      g_set_error (&b->error, NEARBY_ERROR, NEARBY_ERROR_FAILED, "browsing failed: %s",
                   avahi_strerror (avahi_client_errno (b->client)));
      g_main_loop_quit (b->loop);
      break;
    default:
      break;
    }
}

static gboolean
start_browser (Browse *b, AvahiClient *client)
{
  b->browser = avahi_service_browser_new (client, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC,
                                          NEARBY_SERVICE_TYPE, NULL, 0, on_browsed, b);
  return b->browser != NULL;
}

static void
on_client_state (AvahiClient *client, AvahiClientState state, void *user_data)
{
  Browse *b = user_data;

  if (state == AVAHI_CLIENT_FAILURE)
    {
      /* Watching, a daemon that went away is waited for, as the server
       * does: a restarted avahi-daemon is no reason to stop. */
      if (b->watch && avahi_client_errno (client) == AVAHI_ERR_DISCONNECTED)
        {
          if (b->reconnect == NULL)
            {
              b->reconnect = g_idle_source_new ();
              g_source_set_callback (b->reconnect, on_reconnect, b, NULL);
              g_source_attach (b->reconnect, b->context);
            }
          return;
        }
      if (b->error == NULL)
        g_set_error (&b->error, NEARBY_ERROR, NEARBY_ERROR_FAILED, "lost avahi-daemon: %s",
                     avahi_strerror (avahi_client_errno (client)));
      g_main_loop_quit (b->loop);
      return;
    }
  /* A client made again after the daemon left: browse once it runs. */
  if (state == AVAHI_CLIENT_S_RUNNING && b->sweep_due && b->browser == NULL
      && !start_browser (b, client))
    {
      g_set_error (&b->error, NEARBY_ERROR, NEARBY_ERROR_FAILED,
                   "cannot look for branches nearby: %s",
                   avahi_strerror (avahi_client_errno (client)));
      g_main_loop_quit (b->loop);
    }
}

static gboolean
on_timeout (gpointer user_data)
{
  Browse *b = user_data;

  g_debug ("browse timed out with %u resolver(s) pending", b->pending);
  b->timed_out = TRUE;
  g_clear_pointer (&b->timeout, g_source_unref);
  g_main_loop_quit (b->loop);
  return G_SOURCE_REMOVE;
}

static void
on_cancelled (GCancellable *cancellable, gpointer user_data)
{
  g_main_loop_quit (((Browse *) user_data)->loop);
}

int
nearby_service_compare (gconstpointer a, gconstpointer b)
{
  const NearbyService *x = *(NearbyService *const *) a;
  const NearbyService *y = *(NearbyService *const *) b;
  int c = strcmp (x->name, y->name);

  if (c == 0)
    c = strcmp (x->host, y->host);
  if (c == 0)
    c = strcmp (x->url, y->url);
  return c != 0 ? c : g_strcmp0 (x->key, y->key);
}

static void
browse_clear (Browse *b)
{
  if (b->probes != NULL)
    g_cancellable_cancel (b->probes);
  g_clear_object (&b->probes);
  if (b->timeout != NULL)
    g_source_destroy (b->timeout);
  g_clear_pointer (&b->timeout, g_source_unref);
  if (b->grace != NULL)
    g_source_destroy (b->grace);
  g_clear_pointer (&b->grace, g_source_unref);
  if (b->liveness != NULL)
    g_source_destroy (b->liveness);
  g_clear_pointer (&b->liveness, g_source_unref);
  if (b->reconnect != NULL)
    g_source_destroy (b->reconnect);
  g_clear_pointer (&b->reconnect, g_source_unref);
  if (b->sweep != NULL)
    g_source_destroy (b->sweep);
  g_clear_pointer (&b->sweep, g_source_unref);
  g_clear_pointer (&b->held, g_hash_table_unref);
  /* Resolvers, then the browser, then the client they belong to. */
  g_queue_clear (&b->waiting);
  g_clear_pointer (&b->copies, g_hash_table_unref);
  g_clear_pointer (&b->services, g_hash_table_unref);
  g_clear_pointer (&b->servers, g_hash_table_unref);
  g_clear_pointer (&b->rejected, g_hash_table_unref);
  g_clear_pointer (&b->browser, avahi_service_browser_free);
  g_clear_pointer (&b->client, avahi_client_free);
  g_clear_pointer (&b->poll, avahi_glib_poll_free);
  g_clear_pointer (&b->loop, g_main_loop_unref);
  g_clear_error (&b->error);
  g_clear_pointer (&b->context, g_main_context_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Browse, browse_clear)

static void
destroy_source (gpointer source)
{
  g_source_destroy (source);
  g_source_unref (source);
}

/* Sets up a browse of the services that may be @only (NULL: all). */
static gboolean
browse_init (Browse *b, const char *only, guint timeout_ms, gboolean watch, NearbyBrowseFunc func,
             gpointer user_data, GError **error)
{
  int rc = 0;

  /* The caller's context, so that its sources (signals) run while browsing. */
  b->context = g_main_context_ref_thread_default ();
  avahi_set_allocator (avahi_glib_allocator ());
  b->poll = avahi_glib_poll_new (b->context, G_PRIORITY_DEFAULT);
  b->loop = g_main_loop_new (b->context, FALSE);
  b->watch = watch;
  b->only = only;
  b->func = func;
  b->user_data = user_data;
  b->copies = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, copy_free);
  b->services = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                       (GDestroyNotify) nearby_service_free);
  b->rejected = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  b->held = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, destroy_source);

  b->client = avahi_client_new (avahi_glib_poll_get (b->poll), 0, on_client_state, b, &rc);
  if (b->client == NULL)
    {
      g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_FAILED,
                   "cannot look for branches nearby: %s (is avahi-daemon running?)",
                   avahi_strerror (rc));
      return FALSE;
    }
  if (!start_browser (b, b->client))
    {
      g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_FAILED, "cannot look for branches nearby: %s",
                   avahi_strerror (avahi_client_errno (b->client)));
      return FALSE;
    }
  if (timeout_ms > 0)
    {
      b->timeout = g_timeout_source_new (timeout_ms);
      g_source_set_callback (b->timeout, on_timeout, b, NULL);
      g_source_attach (b->timeout, b->context);
    }
  if (watch)
    {
      b->servers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, server_free);
      b->probes = g_cancellable_new ();
      b->liveness = g_timeout_source_new (LIVENESS_INTERVAL_MS / 4);
      g_source_set_callback (b->liveness, on_liveness, b, NULL);
      g_source_attach (b->liveness, b->context);
    }
  return TRUE;
}

/* Runs until the browse is complete, timed out, cancelled or failed. */
static gboolean
browse_run (Browse *b, GCancellable *cancellable, GError **error)
{
  gulong cancel_id = 0;

  if (cancellable != NULL)
    cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (on_cancelled), b, NULL);
  if ((cancellable == NULL || !g_cancellable_is_cancelled (cancellable)) && !b->timed_out
      && !browse_complete (b))
    g_main_loop_run (b->loop);
  if (cancel_id != 0)
    g_cancellable_disconnect (cancellable, cancel_id);
  if (b->error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&b->error));
      return FALSE;
    }
  return TRUE;
}

/* What was found, sorted; without what nearby_resolve() turned down. */
static GPtrArray *
browse_results (Browse *b)
{
  GPtrArray *result = g_ptr_array_new_with_free_func ((GDestroyNotify) nearby_service_free);
  GHashTableIter iter;
  gpointer key, value;

  if (b->refused > 0 && !b->watch)
    g_warning ("avahi-daemon refused to resolve %u service(s) (%s); the list may be incomplete",
               b->refused, avahi_strerror (b->refused_error));
  g_hash_table_iter_init (&iter, b->services);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (!g_hash_table_contains (b->rejected, key))
      g_ptr_array_add (result, nearby_service_copy (value));
  g_ptr_array_sort (result, nearby_service_compare);
  return result;
}

typedef struct
{
  GMainLoop *loop;
  guint left;
  gboolean *answered;
} Probes;

typedef struct
{
  Probes *probes;
  guint index;
} Probe;

static void
on_candidate_probed (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Probe *probe = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketConnection) connection
      = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);

  if (connection != NULL)
    {
      probe->probes->answered[probe->index] = TRUE;
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
    }
  else
    g_debug ("a candidate does not answer: %s", error->message);
  if (--probe->probes->left == 0)
    g_main_loop_quit (probe->probes->loop);
  g_free (probe);
}

static GSocketAddress *
socket_address_of (const NearbyService *s)
{
  g_autofree char *where
      = nearby_url_is_link_local (s->address) && s->ifname != NULL && *s->ifname != '\0'
            ? g_strdup_printf ("%s%%%s", s->address, s->ifname)
            : g_strdup (s->address);

  return g_inet_socket_address_new_from_string (where, s->port);
}

/* At most this many servers are asked at once. */
#define MAX_PROBES 64

/* Moves the services of @services (those @want keeps, or all) whose server
 * does not take a TCP connection within PROBE_TIMEOUT_S to @silent: a host
 * that left without a goodbye is still in Avahi's cache for a while, and
 * must be neither listed as there nor picked. All are asked at once, so
 * this costs one round trip, or the timeout when someone has left. */
static void
drop_silent (GPtrArray *services, GPtrArray *silent, const char *name)
{
  g_autoptr (GMainContext) context = g_main_context_new ();
  g_autoptr (GMainLoop) loop = g_main_loop_new (context, FALSE);
  g_autoptr (GHashTable) index = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GPtrArray) asked = g_ptr_array_new_with_free_func (g_free);
  g_autofree gboolean *answered = NULL;
  g_autofree char *suffix = name != NULL ? g_strconcat ("/", name, NULL) : NULL;
  Probes probes = { loop, 0, NULL };

  /* One probe per server, in a context of our own: nothing else runs. */
  g_main_context_push_thread_default (context);
  answered = g_new0 (gboolean, MAX_PROBES);
  probes.answered = answered;
  for (guint i = 0; i < services->len; i++)
    {
      const NearbyService *s = services->pdata[i];
      char *id;
      g_autoptr (GSocketAddress) address = NULL;
      g_autoptr (GSocketClient) client = NULL;
      Probe *probe;

      if (name != NULL && strcmp (s->name, name) != 0 && !g_str_has_suffix (s->name, suffix))
        continue;
      id = server_id (s);
      if (g_hash_table_contains (index, id) || asked->len >= MAX_PROBES
          || (address = socket_address_of (s)) == NULL)
        {
          g_free (id);
          continue;
        }
      g_hash_table_insert (index, id, GUINT_TO_POINTER (asked->len));
      g_ptr_array_add (asked, g_strdup (id));
      client = g_socket_client_new ();
      g_socket_client_set_timeout (client, PROBE_TIMEOUT_S);
      g_socket_client_set_enable_proxy (client, FALSE);
      probe = g_new0 (Probe, 1);
      probe->probes = &probes;
      probe->index = asked->len - 1;
      probes.left++;
      g_socket_client_connect_async (client, G_SOCKET_CONNECTABLE (address), NULL,
                                     on_candidate_probed, probe);
    }
  if (probes.left > 0)
    g_main_loop_run (loop);
  g_main_context_pop_thread_default (context);

  for (guint i = services->len; i-- > 0;)
    {
      const NearbyService *s = services->pdata[i];
      g_autofree char *id = server_id (s);
      gpointer at;

      if (!g_hash_table_lookup_extended (index, id, NULL, &at) || answered[GPOINTER_TO_UINT (at)])
        continue;
      {
        g_autofree char *shown = nearby_untrusted_escape (s->url);

        g_debug ("leaving out %s: its server does not answer", shown);
      }
      g_ptr_array_add (silent, g_ptr_array_steal_index (services, i));
    }
}

/* @brief: @timeout_ms is the intended length, not a limit that cut the
 * browse short (nearby_browse_briefly()). */
static GPtrArray *
browse (const char *only, guint timeout_ms, gboolean watch, gboolean brief, NearbyBrowseFunc func,
        gpointer user_data, GCancellable *cancellable, GError **error)
{
  g_auto (Browse) b = { 0 };
  GPtrArray *result;

  if (!browse_init (&b, only, timeout_ms, watch, func, user_data, error)
      || !browse_run (&b, cancellable, error))
    return NULL;
  if (!watch && !brief && b.timed_out && !b.all_for_now)
    g_warning ("avahi-daemon did not finish answering within %g s; the list may be incomplete",
               timeout_ms / 1000.0);
  result = browse_results (&b);
  if (!watch)
    {
      g_autoptr (GPtrArray) silent
          = g_ptr_array_new_with_free_func ((GDestroyNotify) nearby_service_free);

      drop_silent (result, silent, NULL);
      if (silent->len > 0)
        g_warning ("not listed: %u branch(es) whose server does not answer (left the network?)",
                   silent->len);
    }
  return result;
}

GPtrArray *
nearby_browse (guint timeout_ms, gboolean watch, NearbyBrowseFunc func, gpointer user_data,
               GCancellable *cancellable, GError **error)
{
  return browse (NULL, timeout_ms, watch, FALSE, func, user_data, cancellable, error);
}

GPtrArray *
nearby_browse_briefly (guint timeout_ms, GError **error)
{
  return browse (NULL, timeout_ms, FALSE, TRUE, NULL, NULL, NULL, error);
}

static gboolean
host_matches (const NearbyService *s, const char *host)
{
  g_autofree char *wanted = g_strdup (host);

  if (g_str_has_suffix (wanted, ".local"))
    wanted[strlen (wanted) - strlen (".local")] = '\0';
  return g_ascii_strcasecmp (s->host, wanted) == 0;
}

/* Owner names are what people type: compared without case. */
static gboolean
owner_matches (const char *owner, const char *who)
{
  g_autofree char *a = NULL;
  g_autofree char *b = NULL;

  if (owner == NULL || who == NULL)
    return FALSE;
  a = g_utf8_casefold (owner, -1);
  b = g_utf8_casefold (who, -1);
  return strcmp (a, b) == 0;
}

/* A WHO spelled like a key names a key and nothing else: owner and host
 * names are the advertiser's to choose, and one could be spelled like
 * someone else's key. */
static gboolean
who_matches (const NearbyService *s, const char *who)
{
  if (nearby_key_spec_is_key (who))
    return nearby_key_matches (s->key, who);
  return host_matches (s, who) || owner_matches (s->owner, who);
}

/* Whether @s's name is @name or ends in "/@name". */
static gboolean
name_matches (const NearbyService *s, const char *name)
{
  gsize n = strlen (name), m = strlen (s->name);

  return strcmp (s->name, name) == 0
         || (m > n && s->name[m - n - 1] == '/' && strcmp (s->name + m - n, name) == 0);
}

/* How many of @matches have a key whose short code (or, with @whole, the
 * key itself) is @s's. */
static guint
same_key (GPtrArray *matches, const NearbyService *s, gboolean whole)
{
  g_autofree char *code = nearby_key_short_code (s->key);
  guint n = 0;

  for (guint i = 0; i < matches->len; i++)
    {
      const NearbyService *t = matches->pdata[i];
      g_autofree char *other = t->key != NULL ? nearby_key_short_code (t->key) : NULL;

      if (whole ? g_strcmp0 (t->key, s->key) == 0 : g_strcmp0 (other, code) == 0)
        n++;
    }
  return n;
}

/* How to ask for @s alone among @matches, ready to paste:
 * nearby://NAME@SHORT-CODE when its code is unique there, else
 * nearby://NAME@<key's URL form>, else (one key at two places) the direct
 * nearby://KEY@ADDR:PORT/NAME; then who it is, "(Alice on alice-host,
 * "Fix the login")". A server without a key: nearby://NAME@HOST, or its
 * URL when another of @matches has the same name on the same host (two
 * servers there, or someone else's record naming that host). */
static char *
choice (GPtrArray *matches, const NearbyService *s)
{
  g_autofree char *path = nearby_name_to_path (s->name);
  g_autofree char *host = nearby_untrusted_escape (s->host);
  g_autofree char *how = NULL;
  g_autofree char *owner = NULL;
  g_autoptr (GString) out = NULL;

  if (s->key == NULL)
    {
      for (guint i = 0; i < matches->len; i++)
        {
          const NearbyService *t = matches->pdata[i];

          if (t != s && strcmp (t->name, s->name) == 0
              && g_ascii_strcasecmp (t->host, s->host) == 0)
            return nearby_untrusted_escape (s->url);
        }
      return g_strdup_printf ("nearby:/%s@%s", path, host);
    }

  if (same_key (matches, s, FALSE) == 1)
    {
      g_autofree char *code = nearby_key_short_code (s->key);

      how = g_strdup_printf ("nearby:/%s@%s", path, code);
    }
  else
    {
      g_autofree char *url_form = nearby_key_to_url_form (s->key);

      if (same_key (matches, s, TRUE) == 1)
        how = g_strdup_printf ("nearby:/%s@%s", path, url_form);
      else
        {
          g_autofree char *direct
              = nearby_url_build_direct (url_form, s->address, s->ifname, s->port, path);

          how = nearby_untrusted_escape (direct);
        }
    }
  out = g_string_new (how);
  g_string_append (out, " (");
  if (s->owner != NULL)
    {
      owner = nearby_untrusted_escape (s->owner);
      g_string_append_printf (out, "%s on ", owner);
    }
  g_string_append (out, host);
  if (s->subject != NULL)
    {
      g_autofree char *subject = nearby_untrusted_escape (s->subject);

      g_string_append_printf (out, ", \"%s\"", subject);
    }
  g_string_append (out, ")");
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static char *
choices (GPtrArray *matches)
{
  GString *out = g_string_new (NULL);

  for (guint i = 0; i < matches->len; i++)
    {
      g_autofree char *one = choice (matches, matches->pdata[i]);

      g_string_append_printf (out, "%s%s", i > 0 ? ", " : "", one);
    }
  return g_string_free (out, FALSE);
}

/* The pinned key is not among the services named @name: the owner has
 * left, or (same owner name, another key) someone else took the name. */
static void
pinned_missing (GPtrArray *services, const char *name, const NearbyPick *pick, GError **error)
{
  g_autofree char *shown_name = nearby_untrusted_escape (name);
  g_autofree char *pinned_code = nearby_key_short_code (pick->pin);
  g_autofree char *shown_owner
      = pick->pinned_owner != NULL ? nearby_untrusted_escape (pick->pinned_owner) : NULL;
  g_autofree char *remote
      = pick->remote != NULL ? nearby_untrusted_escape (pick->remote) : g_strdup ("<name>");
  guint others = 0;

  for (guint i = 0; i < services->len; i++)
    {
      const NearbyService *s = services->pdata[i];

      if (!name_matches (s, name))
        continue;
      others++;
      /* Like ssh's changed host key: the same someone, by name, with
       * another key. The name is a hint; the key is who it is. */
      if (s->key != NULL && pick->pinned_owner != NULL
          && owner_matches (s->owner, pick->pinned_owner))
        {
          g_autofree char *now = nearby_key_short_code (s->key);

          g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_FAILED,
                       "the key of %s's '%s' has changed (pinned %s, now %s): it may be someone "
                       "else using that name\n"
                       "hint: if you trust the new key: git config remote.%s.nearbykey '%s'",
                       shown_owner, shown_name, pinned_code, now, remote, s->key);
          return;
        }
    }

  {
    g_autofree char *whose = shown_owner != NULL
                                 ? g_strdup_printf ("from %s (key %s)", shown_owner, pinned_code)
                                 : g_strdup_printf ("from key %s", pinned_code);
    g_autofree char *also
        = others == 0   ? g_strdup ("")
          : others == 1 ? g_strdup (" (1 other server advertises that name)")
                        : g_strdup_printf (" (%u other servers advertise that name)", others);

    g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_NOT_FOUND,
                 "'%s' %s is not on the network; this remote is pinned to that key and will not "
                 "fetch from anyone else%s",
                 shown_name, whose, also);
  }
}

/* nearby_browse_pick(); with @first_pinned, several services of the
 * pinned key are no error: all are its holder's (or fail the handshake). */
static const NearbyService *
pick_one (GPtrArray *services, const char *name, const NearbyPick *pick, gboolean first_pinned,
          GError **error)
{
  static const NearbyPick none = { 0 };
  g_autoptr (GPtrArray) exact = g_ptr_array_new ();
  g_autoptr (GPtrArray) ends = g_ptr_array_new ();
  g_autofree char *suffix = g_strconcat ("/", name, NULL);
  g_autofree char *shown_name = nearby_untrusted_escape (name);
  g_autofree char *shown_who = NULL;
  g_autofree char *listed = NULL;
  const char *who;
  GPtrArray *matches;
  gboolean keyed = FALSE;

  if (pick == NULL)
    pick = &none;
  /* Once pinned, WHO has done its work: only the key counts. */
  who = pick->pin == NULL ? pick->who : NULL;
  shown_who = nearby_untrusted_escape (who);
  for (guint i = 0; i < services->len; i++)
    {
      NearbyService *s = services->pdata[i];

      if (pick->pin != NULL ? g_strcmp0 (s->key, pick->pin) != 0
                            : who != NULL && !who_matches (s, who))
        continue;
      if (strcmp (s->name, name) == 0)
        g_ptr_array_add (exact, s);
      else if (g_str_has_suffix (s->name, suffix))
        g_ptr_array_add (ends, s);
    }

  /* An exact match is no reason to ignore a name that ends in /NAME: anyone
   * may advertise the bare name, and taking it silently would hand them
   * what was meant for the other. Only a WHO or a pin narrows it down,
   * since then the user has said whose branch they want. */
  if (exact->len > 0 && ends->len > 0 && who == NULL && pick->pin == NULL)
    {
      g_autoptr (GPtrArray) all = g_ptr_array_new ();

      g_ptr_array_extend (all, exact, NULL, NULL);
      g_ptr_array_extend (all, ends, NULL, NULL);
      listed = choices (all);
      g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_EXISTS,
                   "'%s' is ambiguous: it is one advertised name and the end of another; pick "
                   "one: %s",
                   shown_name, listed);
      return NULL;
    }
  matches = exact->len > 0 ? exact : ends;
  if (matches == ends)
    {
      /* No exact match: a unique name ending in /NAME will do. */
      g_autoptr (GString) names = g_string_new (NULL);
      gboolean unique = TRUE;

      for (guint i = 0; i < ends->len; i++)
        {
          const char *n = ((NearbyService *) ends->pdata[i])->name;
          g_autofree char *shown = nearby_untrusted_escape (n);

          if (i > 0 && strcmp (n, ((NearbyService *) ends->pdata[0])->name) != 0)
            unique = FALSE;
          g_string_append_printf (names, "%s%s", i > 0 ? ", " : "", shown);
        }
      if (!unique)
        {
          g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_EXISTS, "'%s' is ambiguous; say which: %s",
                       shown_name, names->str);
          return NULL;
        }
    }
  if (matches->len == 0)
    {
      if (pick->pin != NULL)
        pinned_missing (services, name, pick, error);
      else if (who != NULL)
        g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_NOT_FOUND,
                     "no branch named '%s' is advertised by %s; see 'git nearby browse'",
                     shown_name, shown_who);
      else
        g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_NOT_FOUND,
                     "no branch named '%s' is advertised nearby; see 'git nearby browse'",
                     shown_name);
      return NULL;
    }
  if (matches->len > 1 && !(pick->pin != NULL && first_pinned))
    {
      listed = choices (matches);
      for (guint i = 0; i < matches->len; i++)
        keyed = keyed || ((NearbyService *) matches->pdata[i])->key != NULL;
      /* Servers from before identities: the message they always had. */
      if (!keyed)
        g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_EXISTS,
                     "'%s' is advertised by several hosts; pick one: %s", shown_name, listed);
      else
        g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_EXISTS,
                     "'%s' is advertised by %u servers; pick one: %s", shown_name, matches->len,
                     listed);
      return NULL;
    }
  return matches->pdata[0];
}

const NearbyService *
nearby_browse_pick (GPtrArray *services, const char *name, const NearbyPick *pick, GError **error)
{
  return pick_one (services, name, pick, FALSE, error);
}

/* A connection to @s's address and port, every read and write within 2 s. */
static GSocketConnection *
connect_to (const NearbyService *s, GError **error)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketAddress) address = NULL;
  g_autofree char *where = NULL;

  where = nearby_url_is_link_local (s->address) && s->ifname != NULL && *s->ifname != '\0'
              ? g_strdup_printf ("%s%%%s", s->address, s->ifname)
              : g_strdup (s->address);
  address = g_inet_socket_address_new_from_string (where, s->port);
  if (address == NULL)
    {
      g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_INVALID, "not an address");
      return NULL;
    }
  g_socket_client_set_timeout (client, PROBE_TIMEOUT_S);
  /* A server on the LAN is no place for a proxy (and asking for one
   * loads libproxy, which costs more than the connection). */
  g_socket_client_set_enable_proxy (client, FALSE);
  return g_socket_client_connect (client, G_SOCKET_CONNECTABLE (address), NULL, error);
}

/* Whether @s's server takes a connection (no TLS in GIO to ask more). */
static gboolean
service_answers (const NearbyService *s, GError **error)
{
  g_autoptr (GSocketConnection) connection = connect_to (s, error);

  if (connection == NULL)
    return FALSE;
  g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
  return TRUE;
}

/* Whether a server answers for @s's branch at its address and port. */
static gboolean
answers (const NearbyService *s)
{
  g_autoptr (GSocketConnection) connection = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *path = nearby_name_to_path (s->name);
  g_autofree char *request = NULL;
  g_autofree char *authority = NULL;
  char reply[16] = "";
  gsize got = 0;

  connection = connect_to (s, &error);
  if (connection == NULL)
    {
      g_debug ("%s does not answer: %s", s->url, error->message);
      return FALSE;
    }
  /* The authority of our own URL, "10.0.0.2:9419" or "[fe80::1%25eth0]:9419". */
  authority = g_strndup (s->url + strlen ("http://"), strcspn (s->url + strlen ("http://"), "/"));
  request = g_strdup_printf ("GET %s/info/refs?service=git-upload-pack HTTP/1.0\r\n"
                             "Host: %s\r\nConnection: close\r\n\r\n",
                             path, authority);
  if (!g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (connection)), request,
                                  strlen (request), NULL, NULL, &error)
      || !g_input_stream_read_all (g_io_stream_get_input_stream (G_IO_STREAM (connection)), reply,
                                   sizeof reply - 1, &got, NULL, &error))
    {
      g_debug ("%s does not answer: %s", s->url, error->message);
      return FALSE;
    }
  reply[got] = '\0';
  return g_str_has_prefix (reply, "HTTP/1.1 200 ") || g_str_has_prefix (reply, "HTTP/1.0 200 ");
}

/* Drops the services that share their name and host with another and at
 * whose address and port nobody serves that branch: anyone can publish a
 * record naming someone else's host with another port (with or without
 * its key), and such a record must not make the host's own branch
 * unresolvable. Keys do not make this moot: they tell live servers apart,
 * but a record pointing nowhere would still be listed as a choice. */
static void
drop_dead_twins (GPtrArray *services)
{
  g_autoptr (GPtrArray) dead = g_ptr_array_new ();
  /* Each probe may take seconds: a flood of twins is left to the "pick one"
   * error rather than probed one by one. */
  guint probes_left = 8;

  for (guint i = 0; i < services->len; i++)
    {
      const NearbyService *s = services->pdata[i];
      gboolean twin = FALSE;

      for (guint j = 0; j < services->len && !twin; j++)
        {
          const NearbyService *t = services->pdata[j];

          /* Whatever their keys: a record at a port where nothing serves
           * the name is no choice for anyone, keyed or not. */
          twin = i != j && strcmp (s->name, t->name) == 0
                 && g_ascii_strcasecmp (s->host, t->host) == 0;
        }
      if (twin && probes_left > 0 && (probes_left--, !answers (s)))
        g_ptr_array_add (dead, services->pdata[i]);
    }
  for (guint i = 0; i < dead->len; i++)
    g_ptr_array_remove (services, dead->pdata[i]);
}

static gboolean
accept_any (GTlsConnection *connection, GTlsCertificate *peer, GTlsCertificateFlags errors,
            gpointer user_data)
{
  return TRUE; /* the key is what we compare, after the handshake */
}

gboolean
nearby_can_probe_keys (void)
{
  return g_tls_backend_supports_tls (g_tls_backend_get_default ());
}

gboolean
nearby_service_holds_key (const NearbyService *s, const char *key, GError **error)
{
  g_autoptr (GSocketConnection) connection = NULL;
  g_autoptr (GIOStream) tls = NULL;
  g_autoptr (GError) local_error = NULL;
  g_autoptr (GByteArray) der = NULL;
  g_autofree char *seen = NULL;
  GTlsCertificate *peer;

  connection = connect_to (s, &local_error);
  /* No CA store: no chain is checked (the certificate is self-signed),
   * and loading one (GIO's and GnuTLS's own copy) takes 40 ms, more than
   * the handshake. It has to be said at construction: once the connection
   * exists it has loaded the default one. */
  if (connection != NULL)
    tls = g_initable_new (g_tls_backend_get_client_connection_type (g_tls_backend_get_default ()),
                          NULL, &local_error, "base-io-stream", connection, "database", NULL, NULL);
  if (tls != NULL)
    {
      g_signal_connect (tls, "accept-certificate", G_CALLBACK (accept_any), NULL);
      if (g_tls_connection_handshake (G_TLS_CONNECTION (tls), NULL, &local_error)
          && (peer = g_tls_connection_get_peer_certificate (G_TLS_CONNECTION (tls))) != NULL)
        {
          g_object_get (peer, "certificate", &der, NULL);
          if (der != NULL)
            seen = nearby_key_of_certificate (der->data, der->len, FALSE, &local_error);
        }
      g_io_stream_close (tls, NULL, NULL);
    }
  if (seen == NULL)
    {
      /* Not reached, or no TLS there: it says nothing about the key. */
      if (local_error != NULL)
        g_propagate_error (error, g_steal_pointer (&local_error));
      else
        g_set_error_literal (error, NEARBY_ERROR, NEARBY_ERROR_FAILED, "no certificate");
      return FALSE;
    }
  if (strcmp (seen, key) != 0)
    {
      g_autofree char *code = nearby_key_short_code (seen);

      g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_FAILED, "its key is %s", code);
      return FALSE;
    }
  return TRUE;
}

/* When several services of @name carry the pinned key, drops those whose
 * server does not hold it: anyone can copy a key into a TXT record, and a
 * copy must not keep a pinned remote from its owner. At most 8 probes. */
static void
drop_key_copies (GPtrArray *services, const char *name, const char *pin)
{
  g_autoptr (GPtrArray) carriers = g_ptr_array_new ();
  guint probes_left = 8;

  for (guint i = 0; i < services->len; i++)
    {
      NearbyService *s = services->pdata[i];

      if (g_strcmp0 (s->key, pin) == 0 && name_matches (s, name))
        g_ptr_array_add (carriers, s);
    }
  if (carriers->len < 2 || !nearby_can_probe_keys ())
    return;
  for (guint i = 0; i < carriers->len && probes_left > 0; i++, probes_left--)
    {
      NearbyService *s = carriers->pdata[i];
      g_autoptr (GError) error = NULL;

      if (!nearby_service_holds_key (s, pin, &error))
        {
          g_autofree char *shown = nearby_untrusted_escape (s->url);

          g_debug ("%s carries the pinned key but does not hold it: %s", shown, error->message);
          g_ptr_array_remove (services, s);
        }
    }
}

/* Why nothing was picked, when it was not for lack of candidates: the
 * candidates' servers did not answer, or the search ran out of time. */
static void
explain_missing (Browse *b, GPtrArray *silent, GPtrArray *impostors, const char *name,
                 const NearbyPick *pick, guint timeout_ms, GError **error)
{
  g_autofree char *shown_name = nearby_untrusted_escape (name);

  /* Only a pin turns a server down for its key. */
  if (impostors->len > 0)
    {
      const NearbyService *s = impostors->pdata[0];
      g_autofree char *url = nearby_untrusted_escape (s->url);
      g_autofree char *code = nearby_key_short_code (s->key);

      g_clear_error (error);
      g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_FAILED,
                   "the server at %s announces key %s but does not hold it: it is not who it says "
                   "it is; nothing was fetched",
                   url, code);
      return;
    }

  for (guint i = 0; i < silent->len; i++)
    {
      const NearbyService *s = silent->pdata[i];
      g_autofree char *host = nearby_untrusted_escape (s->host);
      g_autofree char *url = nearby_untrusted_escape (s->url);

      if (!name_matches (s, name))
        continue;
      if (pick != NULL && pick->pin != NULL && g_strcmp0 (s->key, pick->pin) != 0)
        continue;
      if (pick != NULL && pick->pin == NULL && pick->who != NULL && !who_matches (s, pick->who))
        continue;
      g_clear_error (error);
      g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_NOT_FOUND,
                   "'%s' is advertised by %s at %s, but that server does not answer (its host "
                   "may have left the network)",
                   shown_name, host, url);
      return;
    }
  if (b->timed_out && !b->all_for_now)
    {
      g_clear_error (error);
      g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_TIMED_OUT,
                   "timed out after %g s looking for '%s': avahi-daemon did not finish "
                   "answering; try again, or wait longer with GIT_NEARBY_TIMEOUT or --timeout",
                   timeout_ms / 1000.0, shown_name);
      return;
    }
  /* Advertised, but never resolved: its host is not there to answer. */
  if (pick == NULL || (pick->pin == NULL && pick->who == NULL))
    {
      GHashTableIter iter;
      gpointer value;

      g_hash_table_iter_init (&iter, b->copies);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        {
          Copy *copy = value;
          g_autofree char *instance = NULL;

          if (copy->answered)
            continue;
          instance = nearby_untrusted_escape (copy->instance);
          g_clear_error (error);
          g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_NOT_FOUND,
                       "'%s' may be the branch advertised as '%s', but its host does not answer "
                       "(it may have left the network)",
                       shown_name, instance);
          return;
        }
    }
}

/* At most this many pinned candidates are checked for the key. */
#define MAX_KEY_PROBES 8

NearbyService *
nearby_resolve (const char *name, const NearbyPick *pick, guint timeout_ms, GError **error)
{
  g_auto (Browse) b = { 0 };
  g_autoptr (GPtrArray) services = NULL;
  g_autoptr (GPtrArray) silent
      = g_ptr_array_new_with_free_func ((GDestroyNotify) nearby_service_free);
  g_autoptr (GPtrArray) impostors
      = g_ptr_array_new_with_free_func ((GDestroyNotify) nearby_service_free);
  g_autoptr (GError) local_error = NULL;
  const NearbyService *picked;
  guint key_probes = 0;

  if (!browse_init (&b, name, timeout_ms, FALSE, NULL, NULL, error))
    return NULL;
  /* A pinned remote is done as soon as its owner's service is there and
   * holds the key: nothing else could be picked, so there is no reason to
   * wait for Avahi's ALL_FOR_NOW. */
  b.pin = pick != NULL ? pick->pin : NULL;
  for (;;)
    {
      const NearbyService *fit;
      const char *fit_key = NULL;
      g_autoptr (GError) probe_error = NULL;
      gboolean holds;

      if (!browse_run (&b, NULL, error))
        return NULL;
      fit = b.pin != NULL ? pinned_fit (&b, &fit_key) : NULL;
      if (fit == NULL)
        break;
      holds = nearby_can_probe_keys () ? nearby_service_holds_key (fit, b.pin, &probe_error)
                                       : service_answers (fit, &probe_error);
      if (holds)
        {
          g_debug ("the pinned key's service is there and holds the key (ALL_FOR_NOW %s)",
                   b.all_for_now ? "seen" : "not waited for");
          return nearby_service_copy (fit);
        }
      {
        g_autofree char *shown = nearby_untrusted_escape (fit->url);

        g_debug ("%s is no choice: %s", shown, probe_error->message);
      }
      /* Someone's copy of the record, or a host that left: look on. */
      g_ptr_array_add (g_error_matches (probe_error, NEARBY_ERROR, NEARBY_ERROR_FAILED) ? impostors
                                                                                        : silent,
                       nearby_service_copy (fit));
      g_hash_table_add (b.rejected, g_strdup (fit_key));
      if (++key_probes == MAX_KEY_PROBES)
        b.pin = NULL; /* no more early ends: the usual rules, at ALL_FOR_NOW */
    }

  g_debug ("browse over: ALL_FOR_NOW %s, %u resolver(s) not answered%s",
           b.all_for_now ? "seen" : "not seen", b.pending, b.timed_out ? ", timed out" : "");
  services = browse_results (&b);
  drop_silent (services, silent, name);
  picked = nearby_browse_pick (services, name, pick, &local_error);
  if (picked == NULL && g_error_matches (local_error, NEARBY_ERROR, NEARBY_ERROR_EXISTS))
    {
      /* Ask the servers themselves, only when one host seems to have it
       * twice or several carry the pinned key. */
      g_clear_error (&local_error);
      drop_dead_twins (services);
      if (pick != NULL && pick->pin != NULL)
        drop_key_copies (services, name, pick->pin);
      picked = pick_one (services, name, pick, TRUE, &local_error);
    }
  if (picked == NULL)
    {
      if (g_error_matches (local_error, NEARBY_ERROR, NEARBY_ERROR_NOT_FOUND))
        explain_missing (&b, silent, impostors, name, pick, timeout_ms, &local_error);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  return nearby_service_copy (picked);
}
