#include "pkt-line.h"

#include <stdarg.h>
#include <string.h>

#include "nearby-error.h"

void
nearby_pkt_reader_init (NearbyPktReader *reader, const void *data, gsize len)
{
  reader->data = data;
  reader->len = len;
  reader->pos = 0;
  reader->line[0] = '\0';
  reader->line_len = 0;
}

static int
hex4 (const guint8 *p)
{
  int v = 0;

  for (int i = 0; i < 4; i++)
    {
      int d = g_ascii_xdigit_value (p[i]);

      if (d < 0)
        return -1;
      v = v << 4 | d;
    }
  return v;
}

gboolean
nearby_pkt_read (NearbyPktReader *reader, NearbyPktType *type, GError **error)
{
  gsize left = reader->len - reader->pos;
  gsize payload;
  int size;

  reader->line[0] = '\0';
  reader->line_len = 0;

  if (left == 0)
    {
      *type = NEARBY_PKT_EOF;
      return TRUE;
    }
  if (left < 4 || (size = hex4 (reader->data + reader->pos)) < 0)
    {
      g_set_error_literal (error, NEARBY_ERROR, NEARBY_ERROR_INVALID, "malformed pkt-line length");
      return FALSE;
    }
  if (size < 4)
    {
      if (size == 3)
        {
          g_set_error_literal (error, NEARBY_ERROR, NEARBY_ERROR_INVALID,
                               "malformed pkt-line length");
          return FALSE;
        }
      reader->pos += 4;
      *type = size == 0 ? NEARBY_PKT_FLUSH : size == 1 ? NEARBY_PKT_DELIM : NEARBY_PKT_RESPONSE_END;
      return TRUE;
    }
  if (size > NEARBY_PKT_MAX)
    {
      g_set_error_literal (error, NEARBY_ERROR, NEARBY_ERROR_INVALID, "pkt-line too long");
      return FALSE;
    }
  if ((gsize) size > left)
    {
      g_set_error_literal (error, NEARBY_ERROR, NEARBY_ERROR_INVALID, "truncated pkt-line");
      return FALSE;
    }

  payload = size - 4;
  if (memchr (reader->data + reader->pos + 4, '\0', payload) != NULL)
    {
      g_set_error_literal (error, NEARBY_ERROR, NEARBY_ERROR_INVALID, "NUL byte in pkt-line");
      return FALSE;
    }
  memcpy (reader->line, reader->data + reader->pos + 4, payload);
  if (payload > 0 && reader->line[payload - 1] == '\n')
    payload--;
  reader->line[payload] = '\0';
  reader->line_len = payload;
  reader->pos += size;
  *type = NEARBY_PKT_DATA;
  return TRUE;
}

void
nearby_pkt_write_data (GByteArray *out, const void *data, gsize len)
{
  char header[5];

  g_return_if_fail (len <= NEARBY_PKT_DATA_MAX);
  g_snprintf (header, sizeof header, "%04x", (unsigned) (len + 4));
  g_byte_array_append (out, (const guint8 *) header, 4);
  g_byte_array_append (out, data, len);
}

void
nearby_pkt_write (GByteArray *out, const char *format, ...)
{
  g_autofree char *line = NULL;
  va_list args;

  va_start (args, format);
  line = g_strdup_vprintf (format, args);
  va_end (args);
  nearby_pkt_write_data (out, line, strlen (line));
}

void
nearby_pkt_flush (GByteArray *out)
{
  g_byte_array_append (out, (const guint8 *) "0000", 4);
}

void
nearby_pkt_delim (GByteArray *out)
{
  g_byte_array_append (out, (const guint8 *) "0001", 4);
}

void
nearby_pkt_sideband (GByteArray *out, guint8 band, const void *data, gsize len, gsize max_data)
{
  const guint8 *p = data;

  do
    {
      gsize n = MIN (len, max_data);
      char header[5];

      g_snprintf (header, sizeof header, "%04x", (unsigned) (n + 5));
      g_byte_array_append (out, (const guint8 *) header, 4);
      g_byte_array_append (out, &band, 1);
      g_byte_array_append (out, p, n);
      p += n;
      len -= n;
    }
  while (len > 0);
}
