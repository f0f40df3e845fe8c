import { loadNative, type NativeBinding } from '@clientele/native';

let binding: NativeBinding | undefined;

/** The loaded addon (throws NativeAddonMissingError, listing the fixes, when it is not built). */
export function native(): NativeBinding {
  binding ??= loadNative();
  return binding;
}
