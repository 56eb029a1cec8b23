/*
 * cl_pq_format.h — the numbers of the Apache Parquet format (parquet.thrift)
 * that both the reader and the writer use: physical types, converted types,
 * encodings, codecs, page types, repetition, and the field ids of the
 * Thrift structs they exchange.
 */
#ifndef CL_PQ_FORMAT_H
#define CL_PQ_FORMAT_H

/* parquet.thrift `Type` */
enum cl_pqf_type {
	CL_PQF_BOOLEAN = 0,
	CL_PQF_INT32 = 1,
	CL_PQF_INT64 = 2,
	CL_PQF_INT96 = 3,
	CL_PQF_FLOAT = 4,
	CL_PQF_DOUBLE = 5,
	CL_PQF_BYTE_ARRAY = 6,
	CL_PQF_FIXED_LEN_BYTE_ARRAY = 7,
};

/* parquet.thrift `ConvertedType` (the legacy annotations) */
enum cl_pqf_converted {
	CL_PQF_CT_UTF8 = 0,
	CL_PQF_CT_MAP = 1,
	CL_PQF_CT_MAP_KEY_VALUE = 2,
	CL_PQF_CT_LIST = 3,
	CL_PQF_CT_ENUM = 4,
	CL_PQF_CT_DECIMAL = 5,
	CL_PQF_CT_DATE = 6,
	CL_PQF_CT_TIME_MILLIS = 7,
	CL_PQF_CT_TIME_MICROS = 8,
	CL_PQF_CT_TIMESTAMP_MILLIS = 9,
	CL_PQF_CT_TIMESTAMP_MICROS = 10,
	CL_PQF_CT_UINT_8 = 11,
	CL_PQF_CT_UINT_16 = 12,
	CL_PQF_CT_UINT_32 = 13,
	CL_PQF_CT_UINT_64 = 14,
	CL_PQF_CT_INT_8 = 15,
	CL_PQF_CT_INT_16 = 16,
	CL_PQF_CT_INT_32 = 17,
	CL_PQF_CT_INT_64 = 18,
	CL_PQF_CT_JSON = 19,
	CL_PQF_CT_BSON = 20,
	CL_PQF_CT_INTERVAL = 21,
};

/* parquet.thrift `FieldRepetitionType` */
enum cl_pqf_repetition {
	CL_PQF_REQUIRED = 0,
	CL_PQF_OPTIONAL = 1,
	CL_PQF_REPEATED = 2,
};

/* parquet.thrift `Encoding` */
enum cl_pqf_encoding {
	CL_PQF_PLAIN = 0,
	CL_PQF_PLAIN_DICTIONARY = 2,
	CL_PQF_RLE = 3,
	CL_PQF_BIT_PACKED = 4,
	CL_PQF_DELTA_BINARY_PACKED = 5,
	CL_PQF_DELTA_LENGTH_BYTE_ARRAY = 6,
	CL_PQF_DELTA_BYTE_ARRAY = 7,
	CL_PQF_RLE_DICTIONARY = 8,
	CL_PQF_BYTE_STREAM_SPLIT = 9,
};

/* parquet.thrift `CompressionCodec` */
enum cl_pqf_codec {
	CL_PQF_UNCOMPRESSED = 0,
	CL_PQF_SNAPPY = 1,
	CL_PQF_GZIP = 2,
	CL_PQF_LZO = 3,
	CL_PQF_BROTLI = 4,
	CL_PQF_LZ4 = 5,
	CL_PQF_ZSTD = 6,
	CL_PQF_LZ4_RAW = 7,
};

/* parquet.thrift `PageType` */
enum cl_pqf_page_type {
	CL_PQF_DATA_PAGE = 0,
	CL_PQF_INDEX_PAGE = 1,
	CL_PQF_DICTIONARY_PAGE = 2,
	CL_PQF_DATA_PAGE_V2 = 3,
};

/* The four magic bytes at both ends of a Parquet file. */
#define CL_PQF_MAGIC "PAR1"

#endif
