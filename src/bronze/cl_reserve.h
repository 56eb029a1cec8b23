/*
 * Room kept for bronze on a data directory's disk.
 *
 * Bronze is the record: everything else in a data directory (the serving
 * store, silver and gold) is made from it and can be made again. So when
 * the disk fills, bronze must be the last writer standing. A file,
 * <data>/bronze.reserve, holds the room (allocated, never written), at
 * most a twentieth of the filesystem and a quarter of what was free at
 * the start:
 *
 * - held (the file is larger than its 8-byte header): the other writers
 *   may write; they can fill the disk only up to it;
 * - taken (cut to its header, which says the size it should have): a
 *   bronze write found the disk full and freed the room for itself; the
 *   other writers wait (cl_reserve_ready) until the disk has room for the
 *   reserve twice over, and the first of them to see it holds it again;
 * - no file: no reserve (`bronze.reserve = 0`, or a directory no server
 *   runs on); nobody waits.
 *
 * Stateless between calls (the file says it all), so the server's
 * threads and other processes on the same directory agree.
 */
#ifndef CL_RESERVE_H
#define CL_RESERVE_H

#include <stdint.h>

/* At start: the reserve of data_dir, of max_bytes, or a twentieth of its
 * filesystem or a quarter of the space free now if less (4 KiB granules;
 * 0: removes it). Held if the disk has room for it twice over, else left
 * taken until it has. */
int cl_reserve_keep(const char *data_dir, uint64_t max_bytes);

/* A bronze write found the disk full: 1 if the reserve was held and its
 * room is now free (write again), 0 if there was none to take. */
int cl_reserve_take(const char *data_dir);

/* Before another writer writes to data_dir's disk: 1 if the reserve is
 * held (holding it again first if it was taken and the disk has room
 * for it twice over) or there is none, 0 if that writer must wait. */
int cl_reserve_ready(const char *data_dir);

/* cl_reserve_ready for a writer that waits in a loop, which also waits
 * for `need` bytes free (0: none): 1 if it may write, else 0, said in
 * comp's log once a minute while it waits (and when it may write again;
 * *said_mono: the loop's own, 0 at first). */
int cl_reserve_room(const char *data_dir, uint64_t need, const char *comp, int64_t *said_mono);

#endif
