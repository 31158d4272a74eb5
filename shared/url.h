/* git-nearby: URLs — the three forms of nearby:// URLs and the http(s)://
 * URL of a resolved service, with IPv6 in brackets and link-local zones
 * (%25<ifname>).
 *
 *   nearby://NAME            the one branch advertised as NAME nearby
 *   nearby://NAME@WHO        ... by WHO: a host name, an owner name
 *                            (percent-encoded), a key's short code
 *                            (XXXX-XXXX) or a key's URL form (43 chars)
 *   nearby://KEY@HOST:PORT/NAME
 *                            "direct": no mDNS; KEY is the URL form of the
 *                            server's key, HOST an IPv4 address, [IPv6]
 *                            (zone as %25ifname) or a host name */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  char *name;   /* the advertised name, decoded */
  char *who;    /* NAME@WHO: WHO, decoded; NULL otherwise */
  char *key;    /* direct: the pin (sha256//...); NULL otherwise */
  char *host;   /* direct: address (no brackets) or host name */
  char *ifname; /* direct: the IPv6 zone, or NULL */
  guint16 port; /* direct: the port; 0 otherwise */
} NearbyUrl;

void nearby_url_clear (NearbyUrl *url);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (NearbyUrl, nearby_url_clear)

/* Parses one of the three forms (the "nearby://" may be left out). Direct
 * URLs are what the user typed: loopback is allowed there. The name may be
 * percent-encoded; "@" in a name must be written %40. Errors are one line
 * showing the URL escaped. */
gboolean nearby_url_parse (const char *url, NearbyUrl *out, GError **error);

/* "http://10.0.0.2:9419/myproj/main", "https://[2001:db8::1]:9419/...",
 * "http://[fe80::1%25eth0]:9419/...". @scheme is "http" or "https";
 * @ifname is used only for link-local IPv6 addresses. @path starts with
 * '/'. @address may also be a host name. */
char *nearby_url_build (const char *scheme, const char *address, const char *ifname, guint16 port,
                        const char *path);

/* nearby_url_build ("http", ...) */
char *nearby_url_build_http (const char *address, const char *ifname, guint16 port,
                             const char *path);

/* "nearby://KEY@10.0.0.2:9419/myproj/main": the direct URL of a branch
 * at @address, @key_url_form the 43-character URL form of its key. */
char *nearby_url_build_direct (const char *key_url_form, const char *address, const char *ifname,
                               guint16 port, const char *path);

/* Whether @address is an IPv6 link-local address (fe80::/10): not an IPv4
 * one (169.254/16 takes no zone), not a host name. */
gboolean nearby_url_is_link_local (const char *address);

/* Whether an address from an mDNS answer may be connected to: not
 * loopback (127/8, ::1, and those written as IPv4-mapped or -compatible
 * IPv6), not unspecified (0.0.0.0/8, ::), not multicast. Anyone on the LAN
 * can answer for any host name; a loopback answer would turn a clone into
 * a request to one of this machine's own services. */
gboolean nearby_url_address_is_usable (const char *address);

/* "git clone nearby://NAME@KEY DIR": the branch @name from the holder of
 * @key (a valid pin) only, since the URL form of the key pins it, into
 * DIR, the name's last component (quoted for a shell if need be). Safe to
 * paste into a shell whatever the name holds: the URL is percent-encoded
 * down to RFC 3986's unreserved characters. Not escaped for HTML. */
char *nearby_clone_line (const char *name, const char *key);

G_END_DECLS
