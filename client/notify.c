#include "notify.h"

#include <gio/gio.h>
#include <string.h>

#include "dbus-names.h"
#include "git-util.h"
#include "nearby-dbus.h"
#include "untrusted.h"

#define CALL_TIMEOUT_MS 5000

static gboolean
server_running (GDBusConnection *connection)
{
  g_autoptr (GVariant) reply = g_dbus_connection_call_sync (
      connection, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
      "NameHasOwner", g_variant_new ("(s)", NEARBY_DBUS_SERVER_NAME), G_VARIANT_TYPE ("(b)"),
      G_DBUS_CALL_FLAGS_NONE, 2000, NULL, NULL);
  gboolean owned = FALSE;

  if (reply != NULL)
    g_variant_get (reply, "(b)", &owned);
  return owned;
}

static guint32
server_pid (GDBusConnection *connection)
{
  g_autoptr (GVariant) reply = g_dbus_connection_call_sync (
      connection, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
      "GetConnectionUnixProcessID", g_variant_new ("(s)", NEARBY_DBUS_SERVER_NAME),
      G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, 2000, NULL, NULL);
  guint32 pid = 0;

  if (reply != NULL)
    g_variant_get (reply, "(u)", &pid);
  return pid;
}

/* The server's Directories, or an empty list. */
static GStrv
server_directories (GDBusConnection *connection)
{
  g_autoptr (GVariant) reply = g_dbus_connection_call_sync (
      connection, NEARBY_DBUS_SERVER_NAME, NEARBY_DBUS_SERVER_PATH,
      "org.freedesktop.DBus.Properties", "Get",
      g_variant_new ("(ss)", NEARBY_DBUS_SERVER_NAME, "Directories"), G_VARIANT_TYPE ("(v)"),
      G_DBUS_CALL_FLAGS_NONE, 2000, NULL, NULL);
  g_autoptr (GVariant) value = NULL;

  if (reply != NULL)
    g_variant_get (reply, "(v)", &value);
  if (value == NULL || !g_variant_is_of_type (value, G_VARIANT_TYPE_STRING_ARRAY))
    return g_new0 (char *, 1);
  return g_variant_dup_strv (value, NULL);
}

/* A word of a command line to copy: quoted for the shell if need be, and
 * escaped for the terminal (paths and names came from a server). */
static char *
word (const char *s)
{
  g_autofree char *quoted = NULL;

  for (const char *p = s; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && strchr ("/._+-:@%=,", *p) == NULL)
      {
        quoted = g_shell_quote (s);
        break;
      }
  return nearby_untrusted_escape (quoted != NULL ? quoted : s);
}

/* "stop that server (kill 1234)" */
static char *
stop_it (guint32 pid, const char *verb)
{
  if (pid == 0)
    return g_strdup_printf ("%s that server", verb);
  return g_strdup_printf ("%s that server (kill %u)", verb, pid);
}

static const char *
lookup (GVariant *details, const char *key)
{
  const char *value = NULL;

  if (!g_variant_lookup (details, key, "&s", &value))
    return "";
  return value;
}

/* "git nearby serve D1 D2 DIR" */
static char *
serve_command (GStrv directories, const char *dir)
{
  g_autoptr (GString) command = g_string_new ("git nearby serve");

  for (char **d = directories; *d != NULL; d++)
    {
      g_autofree char *w = word (*d);

      g_string_append_printf (command, " %s", w);
    }
  {
    g_autofree char *w = word (dir);

    g_string_append_printf (command, " %s", w);
  }
  return g_string_free (g_steal_pointer (&command), FALSE);
}

static char *
explain_advertised (GDBusConnection *connection, const char *verdict, GVariant *details,
                    const char *dir, const char *branch)
{
  guint32 pid = server_pid (connection);
  g_autofree char *shown_dir = nearby_untrusted_escape (dir);
  g_autofree char *name = nearby_untrusted_escape (lookup (details, "name"));

  if (g_str_equal (verdict, "served"))
    {
      g_autofree char *url = nearby_untrusted_escape (lookup (details, "url"));
      g_autofree char *line = NULL;
      gboolean announced = FALSE;

      g_variant_lookup (details, "announced", "b", &announced);
      if (announced)
        line = g_strdup_printf ("Served at %s and announced on the LAN.", url);
      else if (g_str_equal (lookup (details, "not-announced"), "no-publish"))
        line = g_strdup_printf (
            "Served at %s, but not announced on the LAN: the server runs with --no-publish.", url);
      else if (g_str_equal (lookup (details, "not-announced"), "cap"))
        line = g_strdup_printf ("Served at %s, but not announced on the LAN: the server announces "
                                "the first 900 advertised branches by name (Avahi's limit).",
                                url);
      else if (g_str_equal (lookup (details, "not-announced"), "unreadable"))
        line = g_strdup_printf ("Served at %s, but not announced on the LAN: the server cannot "
                                "read the branch's tip.",
                                url);
      else
        line = g_strdup_printf ("Served at %s, but not announced on the LAN yet: avahi-daemon is "
                                "not running.",
                                url);
      if (*lookup (details, "displaced-repository") != '\0')
        {
          g_autofree char *other
              = nearby_untrusted_escape (lookup (details, "displaced-repository"));
          g_autofree char *other_branch
              = nearby_untrusted_escape (lookup (details, "displaced-branch"));

          return g_strdup_printf ("%s\nNote: branch %s of %s is advertised as '%s' too, and is not "
                                  "served under that name: the first path wins.",
                                  line, other_branch, other, name);
        }
      return g_steal_pointer (&line);
    }
  if (g_str_equal (verdict, "collision"))
    {
      g_autofree char *other = nearby_untrusted_escape (lookup (details, "repository"));
      g_autofree char *other_branch = nearby_untrusted_escape (lookup (details, "branch"));
      g_autofree char *b = word (branch);

      return g_strdup_printf ("Not served: '%s' is already served from branch %s of %s. "
                              "Choose another name: git nearby advertise NAME --branch %s",
                              name, other_branch, other, b);
    }
  if (g_str_equal (verdict, "problem"))
    {
      g_autofree char *problem = nearby_untrusted_escape (lookup (details, "problem"));

      return g_strdup_printf ("Not served: %s.", problem);
    }
  if (g_str_equal (verdict, "outside") || g_str_equal (verdict, "hidden"))
    {
      g_auto (GStrv) directories = server_directories (connection);
      g_autofree char *list = NULL;
      g_autofree char *command = serve_command (directories, dir);
      g_autofree char *stop = stop_it (pid, "stop");
      g_autofree char *why = NULL;

      if (g_str_equal (verdict, "outside"))
        {
          g_autofree char *joined = g_strjoinv (", ", directories);

          list = nearby_untrusted_escape (joined);
          why = g_strdup_printf ("is outside the directories the running server serves (%s)", list);
        }
      else
        {
          g_autofree char *hidden = nearby_untrusted_escape (lookup (details, "directory"));

          why = g_strdup_printf (
              "is inside the hidden directory %s, where the running server does not look", hidden);
        }
      return g_strdup_printf ("Not served: %s %s. To serve it, %s and start it again with: %s",
                              shown_dir, why, stop, command);
    }
  if (g_str_equal (verdict, "too-deep"))
    {
      g_autofree char *root = nearby_untrusted_escape (lookup (details, "directory"));
      g_autofree char *restart = stop_it (pid, "restart");
      guint32 depth = 0, max_depth = 0;

      g_variant_lookup (details, "depth", "u", &depth);
      g_variant_lookup (details, "max-depth", "u", &max_depth);
      return g_strdup_printf ("Not served: %s is %u directories below %s, deeper than the running "
                              "server looks (--max-depth %u). To serve it, %s with --max-depth %u.",
                              shown_dir, depth, root, max_depth, restart, depth);
    }
  if (g_str_equal (verdict, "nested"))
    {
      g_autofree char *outer = nearby_untrusted_escape (lookup (details, "repository"));
      g_autofree char *restart = stop_it (pid, "restart");

      return g_strdup_printf ("Not served: %s is inside the working tree of %s, where the running "
                              "server does not look. To serve it, %s with --nested.",
                              shown_dir, outer, restart);
    }
  if (g_str_equal (verdict, "not-advertised"))
    {
      if (pid != 0)
        return g_strdup_printf ("The running server does not see this opt-in yet; make it look "
                                "again with: kill -HUP %u",
                                pid);
      return g_strdup ("The running server does not see this opt-in yet; send it SIGHUP to make "
                       "it look again.");
    }
  return g_strdup_printf ("Not served: the running server does not take %s for a repository.",
                          shown_dir);
}

/* What the server in this session does with @branch now; NULL if it could
 * not say (an older server, say). */
static char *
explain (GDBusConnection *connection, const char *gitdir, const char *branch,
         NearbyNotifyChange change)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) details = NULL;
  g_autofree char *base = g_path_get_basename (gitdir);
  g_autofree char *dir = NULL;
  const char *verdict;

  /* On the connection that emitted Changed: the server hears the signal
   * first, and re-reads the repository for Explain anyway. */
  reply = g_dbus_connection_call_sync (
      connection, NEARBY_DBUS_SERVER_NAME, NEARBY_DBUS_SERVER_PATH, NEARBY_DBUS_SERVER_NAME,
      "Explain", g_variant_new ("(ss)", gitdir, branch), G_VARIANT_TYPE ("(sa{sv})"),
      G_DBUS_CALL_FLAGS_NONE, CALL_TIMEOUT_MS, NULL, &error);
  if (reply == NULL)
    {
      g_debug ("Explain: %s", error->message);
      return NULL;
    }
  g_variant_get (reply, "(&s@a{sv})", &verdict, &details);
  g_debug ("Explain: %s", verdict);
  if (change == NEARBY_NOTIFY_UNADVERTISED)
    return g_str_equal (verdict, "not-advertised")
               ? g_strdup ("The running server no longer serves it.")
               : NULL;
  dir = g_str_equal (base, ".git") ? g_path_get_dirname (gitdir) : g_strdup (gitdir);
  return explain_advertised (connection, verdict, details, dir, branch);
}

char *
nearby_notify_servers (git_repository *repo, const char *branch, NearbyNotifyChange change)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GDBusConnection) connection = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  g_autoptr (NearbyOptIn1) skeleton = NULL;
  g_autofree char *path = NULL;

  if (connection == NULL)
    {
      g_debug ("no session bus: %s", error->message);
      return g_strdup ("No D-Bus session bus: running servers will see this at their next rescan.");
    }

  path = nearby_git_common_dir (repo);

  skeleton = nearby_opt_in1_skeleton_new ();
  if (!g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (skeleton), connection,
                                         NEARBY_DBUS_OPT_IN_PATH, &error))
    {
      g_debug ("cannot export %s: %s", NEARBY_DBUS_OPT_IN_PATH, error->message);
      return g_strdup (
          "Could not signal running servers: they will see this at their next rescan.");
    }
  nearby_opt_in1_emit_changed (skeleton, path);
  g_dbus_connection_flush_sync (connection, NULL, NULL);
  g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (skeleton));

  if (!server_running (connection))
    return g_strdup ("No git-nearby server is running; start one with: git nearby serve");
  return explain (connection, path, branch, change);
}
