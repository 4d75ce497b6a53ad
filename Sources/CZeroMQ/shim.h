#include <zmq.h>
#ifdef __linux__
/* The rings' doorbells (Sources/ZeroMQ/Rings/Doorbell.swift): Glibc's Swift module does not export it. */
#include <sys/eventfd.h>
#endif
