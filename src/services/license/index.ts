export * from './license-format';
export * from './license-service';
export * from './verifier';
