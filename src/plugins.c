/*
 * The plugin registry: one line per plugin.
 */
#include "cl_plugin.h"
#include "plugins/in_synthetic/cl_in_synthetic.h"

#include <string.h>

const struct cl_input_plugin *const cl_input_plugins[] = {
	&cl_in_synthetic,
	NULL,
};

const struct cl_input_plugin *cl_input_plugin_find(const char *name)
{
	for (size_t i = 0; cl_input_plugins[i]; i++)
		if (strcmp(cl_input_plugins[i]->name, name) == 0)
			return cl_input_plugins[i];
	return NULL;
}
