#include "notify.h"

#include <gio/gio.h>
#include <string.h>

#include "dbus-names.h"
#include "git-util.h"
#include "nearby-dbus.h"

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

char *
nearby_notify_servers (git_repository *repo)
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
  return NULL;
}
