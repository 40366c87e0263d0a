export * from './env-secrets';
export * from './keychain-store';
export * from './resolve';
export * from './secret-store';
export * from './installation-secret';
