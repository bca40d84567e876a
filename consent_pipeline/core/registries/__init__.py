"""registries"""
