"""Print the README's config table: `python -m infra.offline.config_table`."""

from infra.settings import settings_table

if __name__ == "__main__":
    print(settings_table())
