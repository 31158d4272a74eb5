/* git-nearby: id — who this user's server is, and the lines that clone
 * from it. */
#include "config.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "dbus-names.h"
#include "identity.h"
#include "name.h"
#include "nearby-error.h"
#include "pins.h"
#include "untrusted.h"
#include "url.h"

#define DBUS_TIMEOUT_MS 2000

typedef struct
{
  char *key;
  char *owner;
  guint16 port;       /* 0: no server running */
  GVariant *branches; /* a(ssss) from List, or NULL */
} Identity;

static void
identity_clear (Identity *id)
{
  g_clear_pointer (&id->key, g_free);
  g_clear_pointer (&id->owner, g_free);
  g_clear_pointer (&id->branches, g_variant_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Identity, identity_clear)

/* A property of the running server, or NULL. */
static GVariant *
server_property (GDBusConnection *bus, const char *name)
{
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GError) error = NULL;
  GVariant *value = NULL;

  reply = g_dbus_connection_call_sync (
      bus, NEARBY_DBUS_SERVER_NAME, NEARBY_DBUS_SERVER_PATH, "org.freedesktop.DBus.Properties",
      "Get", g_variant_new ("(ss)", NEARBY_DBUS_SERVER_NAME, name), G_VARIANT_TYPE ("(v)"),
      G_DBUS_CALL_FLAGS_NO_AUTO_START, DBUS_TIMEOUT_MS, NULL, &error);
  if (reply == NULL)
    {
      g_debug ("no %s from the server: %s", name, error->message);
      return NULL;
    }
  g_variant_get (reply, "(v)", &value);
  return value;
}

/* What the running server says about itself; FALSE if none runs. */
static gboolean
ask_server (Identity *id)
{
  g_autoptr (GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  g_autoptr (GVariant) port = NULL;
  g_autoptr (GVariant) key = NULL;
  g_autoptr (GVariant) owner = NULL;
  g_autoptr (GError) error = NULL;

  if (bus == NULL)
    return FALSE;
  port = server_property (bus, "Port");
  if (port == NULL || !g_variant_is_of_type (port, G_VARIANT_TYPE_UINT16))
    return FALSE;
  id->port = g_variant_get_uint16 (port);
  key = server_property (bus, "Key");
  if (key != NULL && g_variant_is_of_type (key, G_VARIANT_TYPE_STRING)
      && nearby_key_is_valid (g_variant_get_string (key, NULL)))
    id->key = g_variant_dup_string (key, NULL);
  owner = server_property (bus, "Owner");
  if (owner != NULL && g_variant_is_of_type (owner, G_VARIANT_TYPE_STRING)
      && *g_variant_get_string (owner, NULL) != '\0')
    id->owner = g_variant_dup_string (owner, NULL);
  id->branches = g_dbus_connection_call_sync (
      bus, NEARBY_DBUS_SERVER_NAME, NEARBY_DBUS_SERVER_PATH, NEARBY_DBUS_SERVER_NAME, "List", NULL,
      G_VARIANT_TYPE ("(a(ssss))"), G_DBUS_CALL_FLAGS_NO_AUTO_START, DBUS_TIMEOUT_MS, NULL, &error);
  if (id->branches == NULL)
    g_debug ("cannot list the server's branches: %s", error->message);
  return TRUE;
}

/* The addresses others may reach this machine at, no loopback, each once:
 * pairs of address and interface (for the zone of link-local IPv6). */
static GPtrArray *
usable_addresses (void)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  struct ifaddrs *list = NULL;

  if (getifaddrs (&list) < 0)
    return out;
  for (struct ifaddrs *i = list; i != NULL; i = i->ifa_next)
    {
      char text[INET6_ADDRSTRLEN] = "";
      gboolean seen = FALSE;

      if (i->ifa_addr == NULL || !(i->ifa_flags & IFF_UP))
        continue;
      if (i->ifa_addr->sa_family == AF_INET)
        inet_ntop (AF_INET, &((struct sockaddr_in *) i->ifa_addr)->sin_addr, text, sizeof text);
      else if (i->ifa_addr->sa_family == AF_INET6)
        inet_ntop (AF_INET6, &((struct sockaddr_in6 *) i->ifa_addr)->sin6_addr, text, sizeof text);
      else
        continue;
      if (!nearby_url_address_is_usable (text))
        continue;
      for (guint j = 0; j < out->len && !seen; j++)
        {
          char **pair = out->pdata[j];

          seen = strcmp (pair[0], text) == 0
                 && (!nearby_url_is_link_local (text) || strcmp (pair[1], i->ifa_name) == 0);
        }
      if (!seen)
        {
          char **pair = g_new0 (char *, 3);

          pair[0] = g_strdup (text);
          pair[1] = g_strdup (i->ifa_name);
          g_ptr_array_add (out, pair);
        }
    }
  freeifaddrs (list);
  return out;
}

/* The directory git clone would make for @name, quoted for a shell. */
static char *
clone_dir (const char *name)
{
  const char *slash = strrchr (name, '/');
  const char *base = slash != NULL ? slash + 1 : name;

  if (strspn (base, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.+")
      == strlen (base))
    return g_strdup (base);
  return g_shell_quote (base);
}

static void
print_clone_lines (const Identity *id, GPtrArray *addresses)
{
  g_autofree char *url_form = nearby_key_to_url_form (id->key);
  g_autoptr (GVariantIter) iter = NULL;
  const char *name, *branch, *head, *repository;
  guint n = 0;

  if (id->branches == NULL)
    return;
  g_variant_get (id->branches, "(a(ssss))", &iter);
  while (g_variant_iter_next (iter, "(&s&s&s&s)", &name, &branch, &head, &repository))
    {
      g_autofree char *path = nearby_name_to_path (name);
      g_autofree char *dir = clone_dir (name);
      g_autofree char *shown_name = nearby_untrusted_escape (name);
      g_autofree char *shown_path = nearby_untrusted_escape (path);
      g_autofree char *shown_dir = nearby_untrusted_escape (dir);

      printf ("%s%s\n", n++ == 0 ? "\n" : "", shown_name);
      printf ("  git clone nearby:/%s@%s %s\n", shown_path, url_form, shown_dir);
      for (guint i = 0; i < addresses->len; i++)
        {
          char **pair = addresses->pdata[i];
          /* "nearby://KEY@10.0.0.2:9419/p", "nearby://KEY@[fe80::1%25eth0]:9419/p" */
          g_autofree char *url
              = nearby_url_build_direct (url_form, pair[0], pair[1], id->port, path);
          g_autofree char *shown = nearby_untrusted_escape (url);

          printf ("  git clone %s %s\n", shown, shown_dir);
        }
    }
  if (n == 0)
    printf ("\nNo branch is advertised; share one with 'git nearby advertise' in its "
            "repository.\n");
}

gboolean
nearby_cmd_id (int argc, char **argv, GError **error)
{
  g_autoptr (GOptionContext) context = NULL;
  g_auto (Identity) id = { 0 };
  g_autoptr (GPtrArray) addresses = NULL;
  g_autofree char *code = NULL;
  gboolean running;
  const GOptionEntry entries[] = { { NULL } };

  context = g_option_context_new (NULL);
  g_option_context_set_summary (
      context, "Print this user's server identity: its key (the pin that nearby:// remotes\n"
               "keep), the key's short code, the owner name, and for each branch the\n"
               "running server advertises, the lines that clone it: by name and key, and\n"
               "without mDNS, by key, address and port.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!nearby_cmd_parse (context, &argc, &argv, error))
    return FALSE;
  if (argc > 1)
    {
      g_set_error_literal (error, NEARBY_ERROR, NEARBY_ERROR_INVALID, "usage: git nearby id");
      return FALSE;
    }

  running = ask_server (&id);
  if (id.key == NULL)
    {
      /* No server, or one from before identities: the key `serve` uses. */
      g_autofree char *path = nearby_identity_path ();
      g_autoptr (NearbyIdentity) identity = nearby_identity_load (path, TRUE, error);

      if (identity == NULL)
        return FALSE;
      id.key = g_strdup (identity->key);
    }
  if (id.owner == NULL)
    {
      id.owner = nearby_owner_name ();
    }

  code = nearby_key_short_code (id.key);
  printf ("key         %s\n", id.key);
  printf ("short code  %s\n", code);
  if (id.owner != NULL)
    {
      g_autofree char *shown = nearby_untrusted_escape (id.owner);

      printf ("owner       %s\n", shown);
    }
  else
    printf ("owner       (none; set one with: git config --global nearby.owner NAME)\n");
  if (!running)
    {
      printf ("server      not running; start one with 'git nearby serve' in the directory of "
              "your repositories\n");
      return TRUE;
    }
  printf ("server      running on port %u\n", id.port);
  addresses = usable_addresses ();
  print_clone_lines (&id, addresses);
  return TRUE;
}
