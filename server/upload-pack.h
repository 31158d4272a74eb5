/* git-nearby: the upload-pack protocol (v0 stateless and v2) for one
 * advertised branch, spoken by us so that the export boundary holds.
 *
 * This file only parses and decides; it turns a request into a NearbyPackPlan
 * (what to say before the pack, and the exact pack-objects command line and
 * input), which pack-stream.c carries out. */
#pragma once

#include <git2.h>
#include <glib.h>

#include "reach.h"

G_BEGIN_DECLS

typedef struct
{
  git_repository *repo;
  const char *branch;  /* "fix-login" */
  const char *refname; /* "refs/heads/fix-login" */
  gboolean unborn;     /* no commits yet: nothing can be fetched */
  git_oid tip;
  /* Commits reachable from @tip: @reach if the caller has it, else asked
   * of get_reach() (NULL only with an error) once, only when a request
   * names something other than the tip itself: a plain clone needs no
   * walk. NULL if @unborn. */
  NearbyReach *(*get_reach) (gpointer data, const git_oid *tip, GError **error);
  gpointer reach_data;
  NearbyReach *reach;
} NearbyUploadTarget;

typedef struct
{
  GByteArray *preamble; /* pkt-lines to send before the pack, or the whole answer */
  gboolean send_pack;
  gsize sideband_max; /* 0: the pack goes out raw (v0 without side-band) */
  gboolean progress;
  GPtrArray *argv; /* git's argv, NULL-terminated; only validated ids */
  GString *input;  /* pack-objects' standard input */
  char *refusal;   /* why the request was refused, for the log; or NULL */
  char *summary;   /* one line for the log */
} NearbyPackPlan;

void nearby_pack_plan_free (NearbyPackPlan *plan);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NearbyPackPlan, nearby_pack_plan_free)

/* The body of GET info/refs?service=git-upload-pack. */
GBytes *nearby_upload_pack_advertise (const NearbyUploadTarget *target, gboolean v2);

/* The answer to POST git-upload-pack with body @request. Never NULL: a bad
 * request gets a plan whose preamble is an ERR packet. */
NearbyPackPlan *nearby_upload_pack_plan (const NearbyUploadTarget *target, gboolean v2,
                                         const guint8 *request, gsize request_len);

G_END_DECLS
