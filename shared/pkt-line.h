/* git-nearby: git's pkt-line framing (gitprotocol-common(5)), strict. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define NEARBY_PKT_MAX 65520 /* LARGE_PACKET_MAX, header included */
#define NEARBY_PKT_DATA_MAX (NEARBY_PKT_MAX - 4)
#define NEARBY_SIDEBAND_DATA_MAX (NEARBY_PKT_DATA_MAX - 1)

typedef enum
{
  NEARBY_PKT_DATA,
  NEARBY_PKT_FLUSH,        /* 0000 */
  NEARBY_PKT_DELIM,        /* 0001 */
  NEARBY_PKT_RESPONSE_END, /* 0002 */
  NEARBY_PKT_EOF,          /* no more input, cleanly between packets */
} NearbyPktType;

typedef struct
{
  const guint8 *data;
  gsize len;
  gsize pos;
  char line[NEARBY_PKT_DATA_MAX + 1]; /* the last data line, NUL-terminated */
  gsize line_len;
} NearbyPktReader;

void nearby_pkt_reader_init (NearbyPktReader *reader, const void *data, gsize len);

/* Reads one packet. Data lines land in reader->line with one trailing '\n'
 * removed; a line holding a NUL byte, a bad length or a truncated packet is
 * an error. */
gboolean nearby_pkt_read (NearbyPktReader *reader, NearbyPktType *type, GError **error);

void nearby_pkt_write (GByteArray *out, const char *format, ...) G_GNUC_PRINTF (2, 3);
void nearby_pkt_write_data (GByteArray *out, const void *data, gsize len);
void nearby_pkt_flush (GByteArray *out);
void nearby_pkt_delim (GByteArray *out);

/* Frames @data on sideband @band, split into packets as large as allowed. */
void nearby_pkt_sideband (GByteArray *out, guint8 band, const void *data, gsize len,
                          gsize max_data);

G_END_DECLS
