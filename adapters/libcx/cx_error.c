/* cx_error.c - text and names for the CX_E_* table in cx_error.h. */
#include "cx_error.h"

const char *cx_strerror(int code)
{
    switch (code) {
    case CX_OK: return "ok";
#define CX_ERR_TEXT(name, c, text)                                                                 \
    case c: return text;
        CX_ERRORS(CX_ERR_TEXT)
#undef CX_ERR_TEXT
    default: return "unknown error";
    }
}

const char *cx_err_name(int code)
{
    switch (code) {
    case CX_OK: return "CX_OK";
#define CX_ERR_NAME(name, c, text)                                                                 \
    case c: return "CX_E_" #name;
        CX_ERRORS(CX_ERR_NAME)
#undef CX_ERR_NAME
    default: return "CX_E_UNKNOWN";
    }
}
