/*
 * The dashboards' files (web/ and the npm packages web/package.json
 * pins), built into the binary: cmake/embed_web.cmake writes the table
 * at build time from the list in CMakeLists.txt, so nothing is read from
 * disk or fetched from the internet when they are served.
 */
#ifndef CL_WEB_ASSETS_H
#define CL_WEB_ASSETS_H

#include <stddef.h>

struct cl_web_asset {
	const char *name;           /* as served under /app/ ("board.js"); NULL ends the table */
	const char *type;           /* its Content-Type */
	const char *etag;           /* a strong ETag of its bytes, quoted */
	const unsigned char *data;  /* its bytes (a NUL follows them) */
	size_t len;
};

extern const struct cl_web_asset cl_web_assets[];

#endif
