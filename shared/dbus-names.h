/* git-nearby: where on the session bus the server and the opt-in signal live. */
#pragma once

#define NEARBY_DBUS_SERVER_NAME "org.gitnearby.Server1"
#define NEARBY_DBUS_SERVER_PATH "/org/gitnearby/Server1"
#define NEARBY_DBUS_OPT_IN_PATH "/org/gitnearby/OptIn1"
#define NEARBY_DBUS_OPT_IN_INTERFACE "org.gitnearby.OptIn1"
