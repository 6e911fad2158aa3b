"""Every sentence a person reads (zh-CN), as jinja2 templates; shipped as package data."""
