"""Data layer: tables from entities, migrations, repositories, list queries, bodies."""
