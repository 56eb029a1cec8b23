/*
 * FHIR R4's summary elements: what _summary=true gives of a resource.
 */
#ifndef CL_FHIR_SUMMARY_H
#define CL_FHIR_SUMMARY_H

/* The summary elements of resource type `type`, space-separated (a choice
 * type by its name without [x]: "value"), or NULL for a type FHIR R4 does
 * not define. id and meta are not listed: they always come. */
const char *cl_fhir_summary_elements(const char *type);

/* The top-level elements resource type `type` requires (its
 * StructureDefinition's min of 1 or more), space-separated ("" for none),
 * or NULL for a type FHIR R4 does not define: with text, id and meta,
 * what _summary=text gives. */
const char *cl_fhir_mandatory_elements(const char *type);

#endif
