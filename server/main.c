/* git-nearby-serve: serves the advertised branches under some directories.
 * Run as `git nearby serve`. */
#include "config.h"

#include <errno.h>
#include <glib-unix.h>
#include <ifaddrs.h>
#include <locale.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "catalog.h"
#include "connections.h"
#include "dbus-service.h"
#include "publisher.h"
#include "git-util.h"
#include "http-server.h"
#include "identity.h"
#include "log.h"
#include "nearby-error.h"
#include "untrusted.h"
#include "scanner.h"
#include "url.h"

#define DEFAULT_PORT 9419
#define DEFAULT_CACHE_MIB 1024

typedef struct
{
  GMainLoop *loop;
  NearbyCatalog *catalog;
  GStrv previous_names;
} Server;

static gboolean
on_sighup (gpointer user_data)
{
  Server *server = user_data;

  g_message ("SIGHUP: looking for repositories and opt-ins again");
  nearby_catalog_rescan (server->catalog);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_quit (gpointer user_data)
{
  Server *server = user_data;

  g_main_loop_quit (server->loop);
  return G_SOURCE_CONTINUE;
}

/* Says which names appeared and which went away. */
static void
on_catalog_changed (NearbyCatalog *catalog, gpointer user_data)
{
  Server *server = user_data;
  g_autoptr (GPtrArray) branches = nearby_catalog_list (catalog);
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  GStrv names;

  for (guint i = 0; i < branches->len; i++)
    {
      NearbyBranch *branch = branches->pdata[i];

      g_strv_builder_add (builder, branch->name);
      if (server->previous_names == NULL
          || !g_strv_contains ((const char *const *) server->previous_names, branch->name))
        g_message ("serving '%s' (branch %s of %s)", branch->name, branch->branch,
                   nearby_branch_gitdir (branch));
    }
  names = g_strv_builder_end (builder);
  for (char **p = server->previous_names; p != NULL && *p != NULL; p++)
    if (!g_strv_contains ((const char *const *) names, *p))
      g_message ("no longer serving '%s'", *p);
  g_strfreev (server->previous_names);
  server->previous_names = names;
}

/* This server's key, made on first start, kept under $XDG_CONFIG_HOME. */
static NearbyIdentity *
load_identity (GError **error)
{
  g_autofree char *path = nearby_identity_path ();
  g_autoptr (GError) local_error = NULL;
  NearbyIdentity *identity;

  /* nearby_identity_load() also says so when GLib has no TLS. */
  identity = nearby_identity_load (path, TRUE, &local_error);
  if (identity == NULL)
    g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_FAILED, "the server identity: %s",
                 local_error->message);
  return identity;
}

static gboolean
listen_on (NearbyConnections *connections, char **binds, int port, GError **error)
{
  g_autoptr (GError) local_error = NULL;

  if (binds == NULL)
    {
      if (!nearby_connections_listen (connections, NULL, port, &local_error))
        {
          g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_FAILED, "cannot listen on port %d: %s%s",
                       port, local_error->message,
                       port != 0 ? " (--port 0 picks a free port)" : "");
          return FALSE;
        }
      return TRUE;
    }
  for (char **b = binds; *b != NULL; b++)
    {
      g_autoptr (GInetAddress) address = g_inet_address_new_from_string (*b);

      if (address == NULL)
        {
          g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_INVALID, "--bind %s: not an IP address",
                       *b);
          return FALSE;
        }
      /* With --port 0, every address gets the port the first one got. */
      if (!nearby_connections_listen (connections, address, port, &local_error))
        {
          g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_FAILED, "cannot listen on %s port %d: %s",
                       *b, port, local_error->message);
          return FALSE;
        }
    }
  return TRUE;
}

/* The directories of nearby.serve (multi-valued) in the user's own git
 * config, "~/" expanded; for --from-config, as the systemd user unit runs
 * it. NULL with an error when there are none. */
static GStrv
config_roots (GError **error)
{
  g_autoptr (git_config) config = NULL;
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  git_config_iterator *iter = NULL;
  git_config_entry *entry;
  g_auto (GStrv) roots = NULL;

  if (git_config_open_default (&config) == 0
      && git_config_multivar_iterator_new (&iter, config, "nearby.serve", NULL) == 0)
    {
      while (git_config_next (&entry, iter) == 0)
        {
          if (entry->value == NULL || *entry->value == '\0')
            continue;
          if (g_str_has_prefix (entry->value, "~/") || strcmp (entry->value, "~") == 0)
            {
              g_autofree char *path = g_build_filename (g_get_home_dir (), entry->value + 1, NULL);

              g_strv_builder_add (builder, path);
            }
          else
            g_strv_builder_add (builder, entry->value);
        }
      git_config_iterator_free (iter);
    }
  roots = g_strv_builder_end (builder);
  if (roots[0] == NULL)
    {
      g_set_error_literal (error, NEARBY_ERROR, NEARBY_ERROR_INVALID,
                           "--from-config: nearby.serve is not set; add the directories to serve "
                           "with: git config --global --add nearby.serve ~/src");
      return NULL;
    }
  return g_steal_pointer (&roots);
}

/* Each DIR, absolute and canonical; a missing one fails before anything is
 * bound, since a server that serves nothing is not what was asked for. */
static GStrv
check_roots (int argc, char **argv, GError **error)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();

  if (argc <= 1)
    {
      g_autofree char *cwd = g_get_current_dir ();

      g_strv_builder_add (builder, cwd);
      return g_strv_builder_end (builder);
    }
  for (int i = 1; i < argc; i++)
    {
      g_autofree char *real = NULL;
      struct stat st;

      if (stat (argv[i], &st) != 0 || !S_ISDIR (st.st_mode))
        {
          int saved = errno;
          g_autofree char *shown = nearby_untrusted_escape (argv[i]);

          if (stat (argv[i], &st) == 0)
            g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_INVALID,
                         "cannot serve '%s': not a directory", shown);
          else if (saved == ENOENT)
            g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_NOT_FOUND,
                         "cannot serve '%s': no such directory", shown);
          else
            g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_FAILED, "cannot serve '%s': %s", shown,
                         g_strerror (saved));
          return NULL;
        }
      real = realpath (argv[i], NULL);
      g_strv_builder_add (builder, real != NULL ? real : argv[i]);
    }
  return g_strv_builder_end (builder);
}

/* "alice.local": the name avahi-daemon announces this host by (its first
 * label), or NULL when the host has no name worth announcing. */
static char *
local_host_name (void)
{
  const char *host = g_get_host_name ();
  g_autofree char *label = g_strndup (host, strcspn (host, "."));

  if (*label == '\0' || g_str_equal (label, "localhost"))
    return NULL;
  return g_strconcat (label, ".local", NULL);
}

static void
add_url (GPtrArray *urls, char *url)
{
  for (guint i = 0; i < urls->len; i++)
    if (g_str_equal (urls->pdata[i], url))
      {
        g_free (url);
        return;
      }
  g_ptr_array_add (urls, url);
}

/* The URLs people nearby can type, instead of http://0.0.0.0:PORT/: the
 * .local name and every address of an interface that is up, link-local
 * IPv6 with its zone, loopback last (marked as this machine's own). With
 * --bind, only what is bound. */
static GPtrArray *
usable_urls (NearbyConnections *connections, const char *local_name, guint *n_lan)
{
  g_auto (GStrv) uris = nearby_connections_get_uris (connections);
  g_autoptr (GPtrArray) urls = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) loopback = g_ptr_array_new_with_free_func (g_free);
  guint16 port = nearby_connections_get_port (connections);
  gboolean any4 = FALSE, any6 = FALSE;
  struct ifaddrs *addrs = NULL;

  for (char **u = uris; *u != NULL; u++)
    {
      g_autoptr (GUri) uri = g_uri_parse (*u, G_URI_FLAGS_NONE, NULL);
      const char *host = uri != NULL ? g_uri_get_host (uri) : NULL;
      g_autoptr (GInetAddress) address
          = host != NULL ? g_inet_address_new_from_string (host) : NULL;

      if (address == NULL)
        add_url (urls, g_strdup (*u));
      else if (g_inet_address_get_is_any (address))
        {
          if (g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV4)
            any4 = TRUE;
          else
            any6 = TRUE;
        }
      else
        add_url (g_inet_address_get_is_loopback (address) ? loopback : urls,
                 nearby_url_build_http (host, NULL, port, "/"));
    }
  if ((any4 || any6) && local_name != NULL)
    add_url (urls, nearby_url_build_http (local_name, NULL, port, "/"));
  if ((any4 || any6) && getifaddrs (&addrs) == 0)
    {
      for (struct ifaddrs *a = addrs; a != NULL; a = a->ifa_next)
        {
          g_autoptr (GSocketAddress) sockaddr = NULL;
          g_autofree char *text = NULL;
          GInetAddress *address;
          gsize size;

          if (a->ifa_addr == NULL || !(a->ifa_flags & IFF_UP))
            continue;
          if (!((a->ifa_addr->sa_family == AF_INET && any4)
                || (a->ifa_addr->sa_family == AF_INET6 && any6)))
            continue;
          size = a->ifa_addr->sa_family == AF_INET ? sizeof (struct sockaddr_in)
                                                   : sizeof (struct sockaddr_in6);
          sockaddr = g_socket_address_new_from_native (a->ifa_addr, size);
          if (sockaddr == NULL)
            continue;
          address = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (sockaddr));
          text = g_inet_address_to_string (address);
          add_url (g_inet_address_get_is_loopback (address) ? loopback : urls,
                   nearby_url_build_http (text, a->ifa_name, port, "/"));
        }
      freeifaddrs (addrs);
    }
  *n_lan = urls->len;
  for (guint i = 0; i < loopback->len; i++)
    add_url (urls, g_strdup (loopback->pdata[i]));
  if (urls->len == 0)
    for (char **u = uris; *u != NULL; u++)
      add_url (urls, g_strdup (*u));
  return g_steal_pointer (&urls);
}

static gboolean
run (int argc, char **argv, GError **error)
{
  int port = DEFAULT_PORT;
  int max_depth = NEARBY_SCAN_DEFAULT_DEPTH;
  int cache_mib = DEFAULT_CACHE_MIB;
  int max_jobs = (int) g_get_num_processors ();
  NearbyConnectionLimits limits;
  int max_connections;
  g_autofree char *cache_dir = NULL;
  g_autoptr (NearbyPackCache) cache = NULL;
  g_auto (GStrv) binds = NULL;
  g_autofree char *port_file = NULL;
  gboolean no_publish = FALSE;
  gboolean nested = FALSE;
  gboolean verbose = FALSE, from_config = FALSE;
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (SoupServer) http = NULL;
  g_autoptr (NearbyConnections) connections = NULL;
  g_autoptr (GPtrArray) urls = NULL;
  g_autofree char *local_name = NULL;
  guint n_lan = 0;
  g_autoptr (GMainLoop) loop = NULL;
  g_autoptr (NearbyCatalog) catalog = NULL;
  g_autoptr (NearbyDBusService) dbus = NULL;
  g_autoptr (NearbyPublisher) publisher = NULL;
  g_autoptr (NearbyIdentity) identity = NULL;
  g_autofree char *owner = NULL;
  g_autofree char *short_code = NULL;
  g_auto (GStrv) roots = NULL;
  Server server = { 0 };
  const GOptionEntry entries[]
      = { { "port", 'p', 0, G_OPTION_ARG_INT, &port,
            "Listen on port N (default 9419; 0 picks a free port)", "N" },
          { "bind", 0, 0, G_OPTION_ARG_STRING_ARRAY, &binds,
            "Listen on ADDR only (repeatable; default: every address)", "ADDR" },
          { "port-file", 0, 0, G_OPTION_ARG_FILENAME, &port_file,
            "Write the port listened on to FILE", "FILE" },
          { "no-publish", 0, 0, G_OPTION_ARG_NONE, &no_publish,
            "Serve without announcing the branches or browsing the LAN", NULL },
          { "max-depth", 0, 0, G_OPTION_ARG_INT, &max_depth,
            "Look for repositories at most N directories down (default 3)", "N" },
          { "nested", 0, 0, G_OPTION_ARG_NONE, &nested,
            "Also look for repositories inside repositories' working trees", NULL },
          { "cache-size", 0, 0, G_OPTION_ARG_INT, &cache_mib,
            "Keep up to MIB mebibytes of packs for repeated requests (default 1024; 0: none)",
            "MIB" },
          { "max-jobs", 0, 0, G_OPTION_ARG_INT, &max_jobs,
            "Run at most N pack-objects at once (default: the number of cores)", "N" },
          { "max-connections", 0, 0, G_OPTION_ARG_INT, &max_connections,
            "Keep at most N connections open (default 512; 32 per client address)", "N" },
          { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Log every request", NULL },
          { "from-config", 0, 0, G_OPTION_ARG_NONE, &from_config,
            "Serve the directories of nearby.serve in your git config (as the systemd user "
            "unit does)",
            NULL },
          { NULL } };

  nearby_connection_limits_init (&limits);
  limits.max_request_bytes = NEARBY_MAX_REQUEST_BYTES;
  max_connections = (int) limits.max_connections;
  g_set_prgname ("git nearby serve");
  context = g_option_context_new ("[DIR...]");
  g_option_context_set_summary (
      context, "Serve the advertised branches of the repositories under each DIR\n"
               "(default: the current directory), read-only, over git's smart HTTP.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, error))
    return FALSE;
  if (port < 0 || port > 65535)
    {
      g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_INVALID, "--port %d: not a port number", port);
      return FALSE;
    }
  if (max_connections < 1)
    {
      g_set_error_literal (error, NEARBY_ERROR, NEARBY_ERROR_INVALID,
                           "--max-connections takes 1 or more");
      return FALSE;
    }
  limits.max_connections = max_connections;
  if (cache_mib < 0 || max_jobs < 1)
    {
      g_set_error_literal (error, NEARBY_ERROR, NEARBY_ERROR_INVALID,
                           "--cache-size takes 0 or more, --max-jobs 1 or more");
      return FALSE;
    }
  if (max_depth < 0)
    {
      g_set_error_literal (error, NEARBY_ERROR, NEARBY_ERROR_INVALID,
                           "--max-depth cannot be negative");
      return FALSE;
    }
  nearby_log_init ("git nearby serve", verbose);
  nearby_git_init ();
  if (from_config && argc > 1)
    {
      g_set_error_literal (error, NEARBY_ERROR, NEARBY_ERROR_INVALID,
                           "give DIR or --from-config, not both");
      return FALSE;
    }
  if (from_config)
    {
      g_auto (GStrv) configured = config_roots (error);
      g_autoptr (GPtrArray) args = g_ptr_array_new ();

      if (configured == NULL)
        return FALSE;
      g_ptr_array_add (args, argv[0]);
      for (char **dir = configured; *dir != NULL; dir++)
        g_ptr_array_add (args, *dir);
      roots = check_roots (args->len, (char **) args->pdata, error);
    }
  else
    roots = check_roots (argc, argv, error);
  if (roots == NULL)
    return FALSE;

  /* One server per session announces: a second one refuses here, before
   * it binds or announces anything. */
  catalog = nearby_catalog_new ((const char *const *) roots, max_depth, nested);
  server.catalog = catalog;
  owner = nearby_owner_name ();
  dbus = nearby_dbus_service_new (catalog, (const char *const *) roots, !no_publish, owner, error);
  if (dbus == NULL)
    return FALSE;

  /* Before serving anything: a server that cannot prove who it is would
   * serve nearby:// remotes nothing they can pin. */
  if ((identity = load_identity (error)) == NULL)
    return FALSE;
  short_code = nearby_key_short_code (identity->key);
  g_message ("identity %s (%s), owner %s", short_code, identity->key,
             owner != NULL ? owner : "not set (git config --global nearby.owner NAME)");
  g_debug ("identity file %s", identity->path);

  /* Listen first: a busy port or a bad address fails before any scanning. */
  cache_dir = g_build_filename (g_get_user_cache_dir (), "git-nearby", "packs", NULL);
  cache = nearby_pack_cache_new (cache_dir, (guint64) cache_mib << 20, max_jobs);
  http = nearby_http_server_new (catalog, cache, identity->key, owner, !no_publish);
  connections = nearby_connections_new (http, &limits);
  nearby_connections_set_certificate (connections, identity->certificate);
  if (!listen_on (connections, binds, port, error))
    return FALSE;

  g_signal_connect (catalog, "changed", G_CALLBACK (on_catalog_changed), &server);
  nearby_catalog_rescan (catalog);
  if (nearby_catalog_n_repositories (catalog) == 0)
    g_warning ("no git repository found under %s; serving nothing until SIGHUP", roots[0]);
  else if (server.previous_names == NULL || server.previous_names[0] == NULL)
    g_message ("no branch is advertised yet; run 'git nearby advertise' in a repository");

  if (port_file != NULL)
    {
      g_autofree char *text = g_strdup_printf ("%u\n", nearby_connections_get_port (connections));

      if (!g_file_set_contents (port_file, text, -1, error))
        return FALSE;
    }
  local_name = local_host_name ();
  urls = usable_urls (connections, local_name, &n_lan);
  g_message ("listening on port %u (HTTP, and HTTPS on the same port), at:",
             nearby_connections_get_port (connections));
  for (guint i = 0; i < urls->len; i++)
    g_message ("  %s%s", (char *) urls->pdata[i], i >= n_lan ? " (this machine only)" : "");
  if (!no_publish)
    publisher = nearby_publisher_new (catalog, nearby_connections_get_port (connections),
                                      identity->key, owner);
  nearby_dbus_service_set_listening (dbus, nearby_connections_get_port (connections),
                                     urls->pdata[0], identity->key);
  nearby_dbus_service_set_publisher (dbus, publisher);
  loop = g_main_loop_new (NULL, FALSE);
  server.loop = loop;
  g_unix_signal_add (SIGHUP, on_sighup, &server);
  g_unix_signal_add (SIGINT, on_quit, &server);
  g_unix_signal_add (SIGTERM, on_quit, &server);
  g_main_loop_run (loop);

  /* Goodbyes before the catalog goes. */
  nearby_dbus_service_set_publisher (dbus, NULL);
  g_clear_pointer (&publisher, nearby_publisher_free);
  g_message ("stopped");
  g_strfreev (server.previous_names);
  return TRUE;
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;

  setlocale (LC_ALL, "");
  nearby_log_init ("git nearby serve", FALSE);
  if (!run (argc, argv, &error))
    {
      fprintf (stderr, "git nearby serve: %s\n", error->message);
      return 1;
    }
  return 0;
}
