from alembic import context
from sqlalchemy import create_engine, pool

from storage.models import Base

url = context.config.get_main_option("sqlalchemy.url")
assert url, "storage.db.upgrade sets sqlalchemy.url"
connectable = create_engine(url, poolclass=pool.NullPool)
with connectable.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
connectable.dispose()
