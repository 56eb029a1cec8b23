/*
 * The elements of each FHIR R4 resource type that _summary=true gives
 * (those its StructureDefinition marks isSummary; id and meta always
 * come), and the top-level elements each requires (_summary=text). Made
 * from FHIR R4's published StructureDefinitions (profiles-resources.json,
 * version 4.0.1). See cl_fhir_summary.h.
 */
#include "cl_fhir_summary.h"

#include <stddef.h>
#include <string.h>

static const struct {
	const char *type, *elements;
} summary[] = {
	{ "Account",
	  "implicitRules identifier status type name subject servicePeriod "
	  "coverage owner description" },
	{ "ActivityDefinition",
	  "implicitRules url identifier version name title status experimental "
	  "date publisher contact description useContext jurisdiction "
	  "effectivePeriod kind code doNotPerform" },
	{ "AdverseEvent",
	  "implicitRules identifier actuality category event subject encounter "
	  "date detected recordedDate resultingCondition location seriousness "
	  "severity outcome recorder contributor suspectEntity "
	  "subjectMedicalHistory referenceDocument study" },
	{ "AllergyIntolerance",
	  "implicitRules identifier clinicalStatus verificationStatus type "
	  "category criticality code patient asserter" },
	{ "Appointment",
	  "implicitRules identifier status cancelationReason serviceCategory "
	  "serviceType specialty appointmentType reasonCode start end" },
	{ "AppointmentResponse",
	  "implicitRules identifier appointment participantType actor "
	  "participantStatus" },
	{ "AuditEvent",
	  "implicitRules type subtype action recorded outcome outcomeDesc "
	  "purposeOfEvent" },
	{ "Basic", "implicitRules identifier code subject created author" },
	{ "Binary", "implicitRules contentType securityContext url" },
	{ "BiologicallyDerivedProduct", "implicitRules identifier" },
	{ "BodyStructure", "implicitRules identifier active morphology location description patient" },
	{ "Bundle", "implicitRules identifier type timestamp total link entry signature" },
	{ "CapabilityStatement",
	  "implicitRules url version name title status experimental date "
	  "publisher contact useContext jurisdiction kind instantiates imports "
	  "software implementation fhirVersion format patchFormat "
	  "implementationGuide rest messaging document" },
	{ "CarePlan",
	  "implicitRules identifier instantiatesCanonical instantiatesUri basedOn "
	  "replaces partOf status intent category title description subject "
	  "encounter period created author addresses" },
	{ "CareTeam",
	  "implicitRules identifier status category name subject encounter period "
	  "managingOrganization" },
	{ "CatalogEntry", "implicitRules identifier orderable referencedItem" },
	{ "ChargeItem",
	  "implicitRules identifier status code subject context occurrence "
	  "quantity bodysite enterer enteredDate account" },
	{ "ChargeItemDefinition",
	  "implicitRules url identifier version title derivedFromUri partOf "
	  "replaces status experimental date publisher contact description "
	  "useContext jurisdiction effectivePeriod code" },
	{ "Claim",
	  "implicitRules status type use patient billablePeriod created insurer "
	  "provider priority insurance" },
	{ "ClaimResponse",
	  "implicitRules status type use patient created insurer request outcome "
	  "total" },
	{ "ClinicalImpression",
	  "implicitRules identifier status code description subject encounter "
	  "effective date assessor problem" },
	{ "CodeSystem",
	  "implicitRules url identifier version name title status experimental "
	  "date publisher contact useContext jurisdiction caseSensitive valueSet "
	  "hierarchyMeaning compositional versionNeeded content supplements count "
	  "filter property" },
	{ "Communication",
	  "implicitRules identifier instantiatesCanonical instantiatesUri basedOn "
	  "partOf status statusReason priority subject encounter reasonCode "
	  "reasonReference" },
	{ "CommunicationRequest",
	  "implicitRules identifier basedOn replaces groupIdentifier status "
	  "priority doNotPerform encounter occurrence authoredOn requester sender "
	  "reasonCode reasonReference" },
	{ "CompartmentDefinition",
	  "implicitRules url version name status experimental date publisher "
	  "contact useContext code search resource" },
	{ "Composition",
	  "implicitRules identifier status type category subject encounter date "
	  "author title confidentiality custodian event" },
	{ "ConceptMap",
	  "implicitRules url identifier version name title status experimental "
	  "date publisher contact useContext jurisdiction source target" },
	{ "Condition",
	  "implicitRules identifier clinicalStatus verificationStatus code "
	  "bodySite subject encounter onset recordedDate recorder asserter" },
	{ "Consent",
	  "implicitRules identifier status scope category patient dateTime "
	  "performer organization source policyRule verification provision" },
	{ "Contract",
	  "implicitRules identifier version status issued applies subject name "
	  "title type subType" },
	{ "Coverage",
	  "implicitRules identifier status type policyHolder subscriber "
	  "subscriberId beneficiary dependent period payor order network" },
	{ "CoverageEligibilityRequest", "implicitRules status purpose patient created insurer" },
	{ "CoverageEligibilityResponse",
	  "implicitRules status purpose patient created request outcome insurer" },
	{ "DetectedIssue",
	  "implicitRules identifier status code severity patient identified "
	  "author implicated" },
	{ "Device", "implicitRules udiCarrier status safety" },
	{ "DeviceDefinition", "implicitRules safety parentDevice bodySite" },
	{ "DeviceMetric",
	  "implicitRules identifier type unit source parent operationalStatus "
	  "color category measurementPeriod calibration" },
	{ "DeviceRequest",
	  "implicitRules identifier instantiatesCanonical instantiatesUri basedOn "
	  "priorRequest groupIdentifier status intent priority code subject "
	  "encounter occurrence authoredOn requester performerType performer "
	  "reasonCode reasonReference" },
	{ "DeviceUseStatement",
	  "implicitRules identifier basedOn status subject derivedFrom timing "
	  "recordedOn source device reasonCode reasonReference bodySite" },
	{ "DiagnosticReport",
	  "implicitRules identifier status category code subject encounter "
	  "effective issued performer resultsInterpreter media" },
	{ "DocumentManifest",
	  "implicitRules masterIdentifier identifier status type subject author "
	  "description content" },
	{ "DocumentReference",
	  "implicitRules masterIdentifier identifier status docStatus type "
	  "category subject date author relatesTo description securityLabel "
	  "content context" },
	{ "EffectEvidenceSynthesis",
	  "implicitRules url identifier version name title status date publisher "
	  "contact description useContext jurisdiction effectivePeriod population "
	  "exposure exposureAlternative outcome effectEstimate" },
	{ "Encounter",
	  "implicitRules identifier status class type serviceType subject "
	  "episodeOfCare participant appointment reasonCode reasonReference "
	  "diagnosis" },
	{ "Endpoint",
	  "implicitRules identifier status connectionType name "
	  "managingOrganization period payloadType payloadMimeType address" },
	{ "EnrollmentRequest", "implicitRules status" },
	{ "EnrollmentResponse", "implicitRules status" },
	{ "EpisodeOfCare", "implicitRules status type diagnosis patient managingOrganization period" },
	{ "EventDefinition",
	  "implicitRules url identifier version name title status experimental "
	  "date publisher contact useContext jurisdiction approvalDate "
	  "lastReviewDate effectivePeriod trigger" },
	{ "Evidence",
	  "implicitRules url identifier version name title status date publisher "
	  "contact description useContext jurisdiction effectivePeriod "
	  "exposureBackground exposureVariant outcome" },
	{ "EvidenceVariable",
	  "implicitRules url identifier version name title shortTitle status date "
	  "publisher contact description useContext jurisdiction effectivePeriod "
	  "type characteristic" },
	{ "ExampleScenario",
	  "implicitRules url identifier version name status experimental date "
	  "publisher contact useContext jurisdiction" },
	{ "ExplanationOfBenefit",
	  "implicitRules status type use patient billablePeriod created insurer "
	  "provider outcome insurance total" },
	{ "FamilyMemberHistory",
	  "implicitRules identifier instantiatesCanonical instantiatesUri status "
	  "dataAbsentReason patient date name relationship sex age estimatedAge "
	  "deceased reasonCode reasonReference" },
	{ "Flag", "implicitRules identifier status category code subject period encounter author" },
	{ "Goal",
	  "implicitRules lifecycleStatus achievementStatus category priority "
	  "description subject start statusDate expressedBy" },
	{ "GraphDefinition",
	  "implicitRules url version name status experimental date publisher "
	  "contact useContext jurisdiction start" },
	{ "Group", "implicitRules identifier active type actual code name quantity managingEntity" },
	{ "GuidanceResponse", "implicitRules requestIdentifier identifier module status" },
	{ "HealthcareService",
	  "implicitRules identifier active providedBy category type specialty "
	  "location name comment photo" },
	{ "ImagingStudy",
	  "implicitRules identifier status modality subject encounter started "
	  "basedOn referrer interpreter endpoint numberOfSeries numberOfInstances "
	  "procedureReference procedureCode location reasonCode reasonReference "
	  "note description series" },
	{ "Immunization",
	  "implicitRules status vaccineCode patient occurrence primarySource "
	  "performer note isSubpotent" },
	{ "ImmunizationEvaluation",
	  "implicitRules status patient targetDisease immunizationEvent "
	  "doseStatus" },
	{ "ImmunizationRecommendation", "implicitRules identifier patient date recommendation" },
	{ "ImplementationGuide",
	  "implicitRules url version name title status experimental date "
	  "publisher contact useContext jurisdiction packageId license "
	  "fhirVersion dependsOn global" },
	{ "InsurancePlan",
	  "implicitRules identifier status type name ownedBy administeredBy "
	  "coverageArea" },
	{ "Invoice",
	  "implicitRules identifier status type subject recipient date totalNet "
	  "totalGross" },
	{ "Library",
	  "implicitRules url identifier version name title status experimental "
	  "type date publisher contact description useContext jurisdiction "
	  "effectivePeriod content" },
	{ "Linkage", "implicitRules active author item" },
	{ "List", "implicitRules status mode title code subject date source" },
	{ "Location",
	  "implicitRules identifier status operationalStatus name description "
	  "mode type physicalType managingOrganization" },
	{ "Measure",
	  "implicitRules url identifier version name title status experimental "
	  "date publisher contact description useContext jurisdiction "
	  "effectivePeriod disclaimer scoring compositeScoring type "
	  "riskAdjustment rateAggregation rationale "
	  "clinicalRecommendationStatement improvementNotation definition "
	  "guidance" },
	{ "MeasureReport",
	  "implicitRules identifier status type measure subject date reporter "
	  "period improvementNotation" },
	{ "Media",
	  "implicitRules identifier basedOn partOf status type modality view "
	  "subject encounter created issued operator reasonCode bodySite "
	  "deviceName device height width frames duration content" },
	{ "Medication", "implicitRules identifier code status manufacturer amount" },
	{ "MedicationAdministration",
	  "implicitRules instantiates partOf status medication subject effective "
	  "performer" },
	{ "MedicationDispense", "implicitRules status medication subject whenPrepared" },
	{ "MedicationKnowledge", "implicitRules code status manufacturer amount synonym" },
	{ "MedicationRequest",
	  "implicitRules status intent priority doNotPerform reported medication "
	  "subject authoredOn requester performerType instantiatesCanonical "
	  "instantiatesUri basedOn groupIdentifier" },
	{ "MedicationStatement",
	  "implicitRules identifier basedOn partOf status category medication "
	  "subject context effective dateAsserted" },
	{ "MedicinalProduct",
	  "implicitRules identifier type domain combinedPharmaceuticalDoseForm "
	  "legalStatusOfSupply additionalMonitoringIndicator specialMeasures "
	  "paediatricUseIndicator productClassification marketingStatus "
	  "pharmaceuticalProduct packagedMedicinalProduct attachedDocument "
	  "masterFile contact clinicalTrial name crossReference "
	  "manufacturingBusinessOperation specialDesignation" },
	{ "MedicinalProductAuthorization",
	  "implicitRules identifier subject country jurisdiction status "
	  "statusDate restoreDate validityPeriod dataExclusivityPeriod "
	  "dateOfFirstAuthorization internationalBirthDate legalBasis "
	  "jurisdictionalAuthorization holder regulator procedure" },
	{ "MedicinalProductContraindication",
	  "implicitRules subject disease diseaseStatus comorbidity "
	  "therapeuticIndication otherTherapy population" },
	{ "MedicinalProductIndication",
	  "implicitRules subject diseaseSymptomProcedure diseaseStatus "
	  "comorbidity intendedEffect duration otherTherapy undesirableEffect "
	  "population" },
	{ "MedicinalProductIngredient",
	  "implicitRules identifier role allergenicIndicator manufacturer "
	  "specifiedSubstance substance" },
	{ "MedicinalProductInteraction",
	  "implicitRules subject description interactant type effect incidence "
	  "management" },
	{ "MedicinalProductManufactured",
	  "implicitRules manufacturedDoseForm unitOfPresentation quantity "
	  "manufacturer ingredient physicalCharacteristics otherCharacteristics" },
	{ "MedicinalProductPackaged",
	  "implicitRules identifier subject description legalStatusOfSupply "
	  "marketingStatus marketingAuthorization manufacturer batchIdentifier "
	  "packageItem" },
	{ "MedicinalProductPharmaceutical",
	  "implicitRules identifier administrableDoseForm unitOfPresentation "
	  "ingredient device characteristics routeOfAdministration" },
	{ "MedicinalProductUndesirableEffect",
	  "implicitRules subject symptomConditionEffect classification "
	  "frequencyOfOccurrence population" },
	{ "MessageDefinition",
	  "implicitRules url identifier version name title replaces status "
	  "experimental date publisher contact description useContext "
	  "jurisdiction purpose base parent event category focus" },
	{ "MessageHeader",
	  "implicitRules event destination sender enterer author source "
	  "responsible reason response focus definition" },
	{ "MolecularSequence",
	  "implicitRules identifier type coordinateSystem patient specimen device "
	  "performer quantity referenceSeq variant observedSeq quality "
	  "readCoverage repository pointer structureVariant" },
	{ "NamingSystem",
	  "implicitRules name status kind date publisher contact useContext "
	  "jurisdiction uniqueId" },
	{ "NutritionOrder",
	  "implicitRules instantiatesCanonical instantiatesUri status intent "
	  "patient dateTime orderer" },
	{ "Observation",
	  "implicitRules identifier basedOn partOf status code subject focus "
	  "encounter effective issued performer value hasMember derivedFrom "
	  "component" },
	{ "ObservationDefinition", "implicitRules category code identifier" },
	{ "OperationDefinition",
	  "implicitRules url version name title status kind experimental date "
	  "publisher contact useContext jurisdiction affectsState code base "
	  "resource system type instance" },
	{ "OperationOutcome", "implicitRules issue" },
	{ "Organization", "implicitRules identifier active type name partOf" },
	{ "OrganizationAffiliation",
	  "implicitRules identifier active period organization "
	  "participatingOrganization network code specialty location telecom" },
	{ "Parameters", "implicitRules parameter" },
	{ "Patient",
	  "implicitRules identifier active name telecom gender birthDate deceased "
	  "address managingOrganization link" },
	{ "PaymentNotice", "implicitRules status created payment recipient amount" },
	{ "PaymentReconciliation",
	  "implicitRules status period created paymentIssuer paymentDate "
	  "paymentAmount" },
	{ "Person", "implicitRules name telecom gender birthDate managingOrganization active" },
	{ "PlanDefinition",
	  "implicitRules url identifier version name title type status "
	  "experimental date publisher contact description useContext "
	  "jurisdiction effectivePeriod" },
	{ "Practitioner", "implicitRules identifier active name telecom address gender birthDate" },
	{ "PractitionerRole",
	  "implicitRules identifier active period practitioner organization code "
	  "specialty location telecom" },
	{ "Procedure",
	  "implicitRules identifier instantiatesCanonical instantiatesUri basedOn "
	  "partOf status statusReason category code subject encounter performed "
	  "recorder asserter performer location reasonCode reasonReference "
	  "bodySite outcome" },
	{ "Provenance", "implicitRules target recorded" },
	{ "Questionnaire",
	  "implicitRules url identifier version name title status experimental "
	  "subjectType date publisher contact useContext jurisdiction "
	  "effectivePeriod code" },
	{ "QuestionnaireResponse",
	  "implicitRules identifier basedOn partOf questionnaire status subject "
	  "encounter authored author source" },
	{ "RelatedPerson",
	  "implicitRules identifier active patient relationship name telecom "
	  "gender birthDate address" },
	{ "RequestGroup",
	  "implicitRules identifier instantiatesCanonical instantiatesUri "
	  "groupIdentifier status intent priority code" },
	{ "ResearchDefinition",
	  "implicitRules url identifier version name title status experimental "
	  "date publisher contact description useContext jurisdiction "
	  "effectivePeriod population exposure exposureAlternative outcome" },
	{ "ResearchElementDefinition",
	  "implicitRules url identifier version name title shortTitle status "
	  "experimental date publisher contact description useContext "
	  "jurisdiction effectivePeriod type characteristic" },
	{ "ResearchStudy",
	  "implicitRules identifier title protocol partOf status "
	  "primaryPurposeType phase studyDesign category focus condition contact "
	  "keyword location region enrollment period sponsor "
	  "principalInvestigator site reasonStopped whyStopped recruitment result" },
	{ "ResearchSubject", "implicitRules identifier status period study individual" },
	{ "RiskAssessment",
	  "implicitRules identifier status method code subject encounter "
	  "occurrence condition performer" },
	{ "RiskEvidenceSynthesis",
	  "implicitRules url identifier version name title status date publisher "
	  "contact description useContext jurisdiction effectivePeriod population "
	  "exposure outcome riskEstimate" },
	{ "Schedule",
	  "implicitRules identifier active serviceCategory serviceType specialty "
	  "actor planningHorizon" },
	{ "SearchParameter",
	  "implicitRules url version name status experimental date publisher "
	  "contact description useContext jurisdiction code base type" },
	{ "ServiceRequest",
	  "implicitRules identifier instantiatesCanonical instantiatesUri basedOn "
	  "replaces requisition status intent category priority doNotPerform code "
	  "orderDetail quantity subject encounter occurrence asNeeded authoredOn "
	  "requester performerType performer locationCode locationReference "
	  "reasonCode reasonReference specimen bodySite patientInstruction" },
	{ "Slot",
	  "implicitRules identifier serviceCategory serviceType specialty "
	  "appointmentType schedule status start end" },
	{ "Specimen",
	  "implicitRules identifier accessionIdentifier status type subject "
	  "receivedTime condition" },
	{ "SpecimenDefinition",
	  "implicitRules identifier typeCollected patientPreparation timeAspect "
	  "collection" },
	{ "StructureDefinition",
	  "implicitRules url identifier version name title status experimental "
	  "date publisher contact useContext jurisdiction keyword fhirVersion "
	  "kind abstract context contextInvariant type baseDefinition derivation" },
	{ "StructureMap",
	  "implicitRules url identifier version name title status experimental "
	  "date publisher contact useContext jurisdiction structure import group" },
	{ "Subscription", "implicitRules status contact end reason criteria error channel" },
	{ "SubscriptionStatus",
	  "implicitRules status type eventsSinceSubscriptionStart subscription "
	  "topic error" },
	{ "Substance",
	  "implicitRules identifier status category code description instance "
	  "ingredient" },
	{ "SubstanceNucleicAcid",
	  "implicitRules sequenceType numberOfSubunits areaOfHybridisation "
	  "oligoNucleotideType subunit" },
	{ "SubstancePolymer",
	  "implicitRules class geometry copolymerConnectivity modification "
	  "monomerSet repeat" },
	{ "SubstanceProtein", "implicitRules sequenceType numberOfSubunits disulfideLinkage subunit" },
	{ "SubstanceReferenceInformation",
	  "implicitRules comment gene geneElement classification target" },
	{ "SubstanceSourceMaterial",
	  "implicitRules sourceMaterialClass sourceMaterialType "
	  "sourceMaterialState organismId organismName parentSubstanceId "
	  "parentSubstanceName countryOfOrigin geographicalLocation "
	  "developmentStage fractionDescription organism partDescription" },
	{ "SubstanceSpecification",
	  "implicitRules identifier type status domain description source comment "
	  "moiety property referenceInformation structure code name "
	  "molecularWeight relationship nucleicAcid polymer protein "
	  "sourceMaterial" },
	{ "SupplyDelivery", "implicitRules basedOn partOf status occurrence" },
	{ "SupplyRequest",
	  "implicitRules identifier status category priority item quantity "
	  "occurrence authoredOn requester supplier" },
	{ "Task",
	  "implicitRules instantiatesCanonical instantiatesUri basedOn "
	  "groupIdentifier partOf status statusReason businessStatus intent code "
	  "description focus for encounter executionPeriod lastModified requester "
	  "owner location" },
	{ "TerminologyCapabilities",
	  "implicitRules url version name title status experimental date "
	  "publisher contact useContext jurisdiction copyright kind software "
	  "implementation lockedDate" },
	{ "TestReport", "implicitRules identifier name status testScript result score tester issued" },
	{ "TestScript",
	  "implicitRules url identifier version name title status experimental "
	  "date publisher contact useContext jurisdiction" },
	{ "ValueSet",
	  "implicitRules url identifier version name title status experimental "
	  "date publisher contact useContext jurisdiction immutable" },
	{ "VerificationResult",
	  "implicitRules target targetLocation need status statusDate "
	  "validationType validationProcess failureAction" },
	{ "VisionPrescription",
	  "implicitRules status created patient dateWritten prescriber "
	  "lensSpecification" },
};

/* The top-level elements each type requires (min 1 or more), for
 * _summary=text; a type not listed requires none. */
static const struct {
	const char *type, *elements;
} mandatory[] = {
	{ "Account", "status" },
	{ "ActivityDefinition", "status" },
	{ "AdverseEvent", "actuality subject" },
	{ "AllergyIntolerance", "patient" },
	{ "Appointment", "status participant" },
	{ "AppointmentResponse", "appointment participantStatus" },
	{ "AuditEvent", "type recorded agent source" },
	{ "Basic", "code" },
	{ "Binary", "contentType" },
	{ "BodyStructure", "patient" },
	{ "Bundle", "type" },
	{ "CapabilityStatement", "status date kind fhirVersion format" },
	{ "CarePlan", "status intent subject" },
	{ "CatalogEntry", "orderable referencedItem" },
	{ "ChargeItem", "status code subject" },
	{ "ChargeItemDefinition", "url status" },
	{ "Claim", "status type use patient created provider priority insurance" },
	{ "ClaimResponse", "status type use patient created insurer outcome" },
	{ "ClinicalImpression", "status subject" },
	{ "CodeSystem", "status content" },
	{ "Communication", "status" },
	{ "CommunicationRequest", "status" },
	{ "CompartmentDefinition", "url name status code search" },
	{ "Composition", "status type date author title" },
	{ "ConceptMap", "status" },
	{ "Condition", "subject" },
	{ "Consent", "status scope category" },
	{ "Coverage", "status beneficiary payor" },
	{ "CoverageEligibilityRequest", "status purpose patient created insurer" },
	{ "CoverageEligibilityResponse", "status purpose patient created request outcome insurer" },
	{ "DetectedIssue", "status" },
	{ "DeviceMetric", "type category" },
	{ "DeviceRequest", "intent code subject" },
	{ "DeviceUseStatement", "status subject device" },
	{ "DiagnosticReport", "status code" },
	{ "DocumentManifest", "status content" },
	{ "DocumentReference", "status content" },
	{ "EffectEvidenceSynthesis", "status population exposure exposureAlternative outcome" },
	{ "Encounter", "status class" },
	{ "Endpoint", "status connectionType payloadType address" },
	{ "EpisodeOfCare", "status patient" },
	{ "EventDefinition", "status trigger" },
	{ "Evidence", "status exposureBackground" },
	{ "EvidenceVariable", "status" },
	{ "ExampleScenario", "status" },
	{ "ExplanationOfBenefit",
	  "status type use patient created insurer provider outcome insurance" },
	{ "FamilyMemberHistory", "status patient relationship" },
	{ "Flag", "status code subject" },
	{ "Goal", "lifecycleStatus description subject" },
	{ "GraphDefinition", "name status start" },
	{ "Group", "type actual" },
	{ "GuidanceResponse", "module status" },
	{ "ImagingStudy", "status subject" },
	{ "Immunization", "status vaccineCode patient occurrence" },
	{ "ImmunizationEvaluation", "status patient targetDisease immunizationEvent doseStatus" },
	{ "ImmunizationRecommendation", "patient date recommendation" },
	{ "ImplementationGuide", "url name status packageId fhirVersion" },
	{ "Invoice", "status" },
	{ "Library", "status type" },
	{ "Linkage", "item" },
	{ "List", "status mode" },
	{ "Measure", "status" },
	{ "MeasureReport", "status type measure period" },
	{ "Media", "status content" },
	{ "MedicationAdministration", "status medication subject effective" },
	{ "MedicationDispense", "status medication" },
	{ "MedicationRequest", "status intent medication subject" },
	{ "MedicationStatement", "status medication subject" },
	{ "MedicinalProduct", "name" },
	{ "MedicinalProductIngredient", "role" },
	{ "MedicinalProductManufactured", "manufacturedDoseForm quantity" },
	{ "MedicinalProductPackaged", "packageItem" },
	{ "MedicinalProductPharmaceutical", "administrableDoseForm routeOfAdministration" },
	{ "MessageDefinition", "status date event" },
	{ "MessageHeader", "event source" },
	{ "MolecularSequence", "coordinateSystem" },
	{ "NamingSystem", "name status kind date uniqueId" },
	{ "NutritionOrder", "status intent patient dateTime" },
	{ "Observation", "status code" },
	{ "ObservationDefinition", "code" },
	{ "OperationDefinition", "name status kind code system type instance" },
	{ "OperationOutcome", "issue" },
	{ "PaymentNotice", "status created payment recipient amount" },
	{ "PaymentReconciliation", "status created paymentDate paymentAmount" },
	{ "PlanDefinition", "status" },
	{ "Procedure", "status subject" },
	{ "Provenance", "target recorded agent" },
	{ "Questionnaire", "status" },
	{ "QuestionnaireResponse", "status" },
	{ "RelatedPerson", "patient" },
	{ "RequestGroup", "status intent" },
	{ "ResearchDefinition", "status population" },
	{ "ResearchElementDefinition", "status type characteristic" },
	{ "ResearchStudy", "status" },
	{ "ResearchSubject", "status study individual" },
	{ "RiskAssessment", "status subject" },
	{ "RiskEvidenceSynthesis", "status population outcome" },
	{ "Schedule", "actor" },
	{ "SearchParameter", "url name status description code base type" },
	{ "ServiceRequest", "status intent subject" },
	{ "Slot", "schedule status start end" },
	{ "StructureDefinition", "url name status kind abstract type" },
	{ "StructureMap", "url name status group" },
	{ "Subscription", "status reason criteria channel" },
	{ "SubscriptionStatus", "type subscription" },
	{ "Substance", "code" },
	{ "SupplyRequest", "item quantity" },
	{ "Task", "status intent" },
	{ "TerminologyCapabilities", "status date kind" },
	{ "TestReport", "status testScript result" },
	{ "TestScript", "url name status" },
	{ "ValueSet", "status" },
	{ "VerificationResult", "status" },
	{ "VisionPrescription", "status created patient dateWritten prescriber lensSpecification" },
};

/* The elements of type in a table sorted by type, or NULL. */
#define LOOKUP(table, type)                                                      \
	do {                                                                     \
		size_t lo = 0, hi = sizeof(table) / sizeof(table[0]);            \
										 \
		while (lo < hi) {                                                \
			size_t mid = (lo + hi) / 2;                               \
			int c = strcmp(type, table[mid].type);                    \
										 \
			if (c == 0)                                               \
				return table[mid].elements;                       \
			if (c < 0)                                                \
				hi = mid;                                         \
			else                                                      \
				lo = mid + 1;                                     \
		}                                                                \
	} while (0)

const char *cl_fhir_summary_elements(const char *type)
{
	LOOKUP(summary, type);
	return NULL;
}

const char *cl_fhir_mandatory_elements(const char *type)
{
	LOOKUP(mandatory, type);
	return cl_fhir_summary_elements(type) ? "" : NULL;
}
