# trustctl - thin wrappers over swift and cc. Topic targets live in mk/*.mk.
SWIFT ?= swift
PREFIX ?= /usr/local
CONFIG ?= release

.PHONY: all build test run clean
all: build

include $(wildcard mk/*.mk)
