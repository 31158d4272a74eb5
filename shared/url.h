/* git-nearby: URLs — nearby://NAME[@HOST] and the http:// URL of a resolved
 * service, with IPv6 in brackets and link-local zones (%25<ifname>). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Splits "nearby://NAME[@HOST]" (or "NAME[@HOST]") into the advertised name
 * and the host, which is NULL when not given. The name may be
 * percent-encoded; "@" in a name must be written %40. */
gboolean nearby_url_parse_nearby (const char *url, char **name, char **host, GError **error);

/* "http://10.0.0.2:9419/myproj/main", "http://[2001:db8::1]:9419/...",
 * "http://[fe80::1%25eth0]:9419/...". @ifname is used only for link-local
 * IPv6 addresses. @path starts with '/'. */
char *nearby_url_build_http (const char *address, const char *ifname, guint16 port,
                             const char *path);

/* Whether @address is an IPv6 link-local address (fe80::/10). */
gboolean nearby_url_is_link_local (const char *address);

/* Whether an address from an mDNS answer may be connected to: not
 * loopback (127/8, ::1, and those written as IPv4-mapped or -compatible
 * IPv6), not unspecified (0.0.0.0/8, ::), not multicast. Anyone on the LAN
 * can answer for any host name; a loopback answer would turn a clone into
 * a request to one of this machine's own services. */
gboolean nearby_url_address_is_usable (const char *address);

G_END_DECLS
