"""permissions"""
