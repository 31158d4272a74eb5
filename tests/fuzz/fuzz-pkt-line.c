/* libFuzzer harness: the strict pkt-line reader (shared/pkt-line.c), and
 * that whatever it reads, written again, reads back the same. */
#include <string.h>

#include "pkt-line.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  NearbyPktReader *reader = g_new0 (NearbyPktReader, 1);
  NearbyPktReader *again = g_new0 (NearbyPktReader, 1);
  g_autoptr (GByteArray) out = g_byte_array_new ();
  NearbyPktType type;

  nearby_pkt_reader_init (reader, data, size);
  /* Every packet takes at least its 4-byte header: this loop ends. */
  for (gsize n = 0; n <= size / 4 + 1; n++)
    {
      g_autoptr (GError) error = NULL;

      if (!nearby_pkt_read (reader, &type, &error))
        {
          g_assert (error != NULL);
          break;
        }
      g_assert (error == NULL);
      g_assert (reader->pos <= size);
      if (type == NEARBY_PKT_EOF)
        {
          g_assert (reader->pos == size);
          break;
        }
      if (type == NEARBY_PKT_FLUSH)
        nearby_pkt_flush (out);
      else if (type == NEARBY_PKT_DELIM)
        nearby_pkt_delim (out);
      else if (type == NEARBY_PKT_DATA)
        {
          g_assert (reader->line_len <= NEARBY_PKT_DATA_MAX);
          g_assert (reader->line[reader->line_len] == '\0');
          g_assert (memchr (reader->line, '\0', reader->line_len) == NULL);
          nearby_pkt_write_data (out, reader->line, reader->line_len);
        }
    }

  /* Round trip of what was read (a response-end stops the copy). */
  nearby_pkt_reader_init (again, out->data, out->len);
  for (gsize n = 0; n <= out->len / 4 + 1; n++)
    {
      g_autoptr (GError) error = NULL;

      g_assert (nearby_pkt_read (again, &type, &error));
      if (type == NEARBY_PKT_EOF)
        break;
    }

  /* Sideband framing of arbitrary bytes stays within the packet limit. */
  {
    g_autoptr (GByteArray) band = g_byte_array_new ();
    NearbyPktReader *back = g_new0 (NearbyPktReader, 1);
    gsize max = size > 0 ? 1 + data[0] % NEARBY_SIDEBAND_DATA_MAX : NEARBY_SIDEBAND_DATA_MAX;
    gsize total = 0;

    nearby_pkt_sideband (band, 1, data, size, max);
    nearby_pkt_reader_init (back, band->data, band->len);
    while (back->pos < band->len)
      {
        gsize before = back->pos;
        gsize len = 0;

        /* The reader refuses NUL bytes in lines; count from the header. */
        g_assert (band->len - before >= 4);
        for (int i = 0; i < 4; i++)
          len = len * 16 + g_ascii_xdigit_value (band->data[before + i]);
        g_assert (len >= 5 && len <= NEARBY_PKT_MAX && len - 5 <= max);
        g_assert (band->data[before + 4] == 1);
        total += len - 5;
        back->pos += len;
      }
    g_assert (total == size);
    g_free (back);
  }

  g_free (reader);
  g_free (again);
  return 0;
}
