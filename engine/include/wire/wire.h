#pragma once
// Everything a program needs to use the engine.
#include <wire/connection.h>
#include <wire/datagram.h>
#include <wire/endpoint.h>
#include <wire/engine.h>
#include <wire/error.h>
#include <wire/frame_parser.h>
#include <wire/listener.h>
#include <wire/options.h>
#include <wire/statistics.h>
#include <wire/timer.h>
