/* git-nearby: where on the session bus the server and the opt-in signal live. */
#pragma once

#define NEARBY_DBUS_SERVER_NAME "org.gitnearby.Server1"
#define NEARBY_DBUS_SERVER_PATH "/org/gitnearby/Server1"
#define NEARBY_DBUS_OPT_IN_PATH "/org/gitnearby/OptIn1"
#define NEARBY_DBUS_OPT_IN_INTERFACE "org.gitnearby.OptIn1"

/* RequestName flags and replies (the D-Bus specification's values). */
#define NEARBY_DBUS_NAME_FLAG_ALLOW_REPLACEMENT 0x1
#define NEARBY_DBUS_NAME_FLAG_REPLACE_EXISTING 0x2
#define NEARBY_DBUS_NAME_FLAG_DO_NOT_QUEUE 0x4
#define NEARBY_DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER 1
#define NEARBY_DBUS_REQUEST_NAME_REPLY_EXISTS 3
#define NEARBY_DBUS_REQUEST_NAME_REPLY_ALREADY_OWNER 4
